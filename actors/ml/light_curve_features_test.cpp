#include "actors/ml/light_curve_features.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>

using namespace ebs;
using namespace ebs::ml;

namespace {

Photometry detection(double t, const char* band, double mag, double err = 0.05) {
  Photometry p;
  p.mjd_tai = t;
  p.band = band;
  p.mag = mag;
  p.mag_err = err;
  return p;
}

std::map<std::string, float> features(const FeatureSet& set, const AlertCore& alert, size_t* detections = nullptr) {
  FeatureExtractor extractor(set);
  std::vector<float> v(extractor.size());
  size_t n = extractor.extract(alert, v.data());
  if (detections) *detections = n;
  std::map<std::string, float> out;
  for (size_t i = 0; i < v.size(); ++i) out[set.names[i]] = v[i];
  return out;
}

AlertCore ztf_like() {
  AlertCore a;
  a.object_id = "ZTF_TEST";
  a.mjd_tai = 107;
  a.band = "g";
  a.mag = 18.9;
  a.mag_err = 0.05;
  Photometry ul;
  ul.mjd_tai = 100;
  ul.band = "g";
  ul.kind = Photometry::Kind::upper_limit;
  ul.limit_mag = 20.5;
  a.history = {ul, detection(101, "g", 19), detection(103, "g", 18), detection(106, "g", 18.5),
               detection(103.2, "r", 17.8), detection(106.5, "r", 18.2)};
  return a;
}

}  // namespace

TEST_CASE("feature sets have fixed, versioned names") {
  const FeatureSet* basic = find_feature_set("lc-basic/1");
  const FeatureSet* bazin = find_feature_set("lc-bazin/1");
  REQUIRE(basic);
  REQUIRE(bazin);
  CHECK(basic->names.size() == 23);
  CHECK(bazin->names.size() == 29);
  CHECK(basic->names.front() == "n_det_g");
  CHECK(basic->names.back() == "colour_gr");
  CHECK(bazin->names.back() == "bazin_chi2_dof");
  CHECK(std::equal(basic->names.begin(), basic->names.end(), bazin->names.begin()));
  CHECK_FALSE(find_feature_set("lc-basic/2"));
  CHECK(feature_set_names() == std::vector<std::string>{"lc-basic/1", "lc-bazin/1"});
}

TEST_CASE("lc-basic/1 on a hand-made ZTF-like light curve") {
  size_t n = 0;
  auto f = features(*find_feature_set("lc-basic/1"), ztf_like(), &n);
  CHECK(n == 6);
  CHECK(f["n_det_g"] == 4);
  CHECK(f["mag_peak_g"] == doctest::Approx(18));
  CHECK(f["mag_range_g"] == doctest::Approx(1));
  CHECK(f["rise_rate_g"] == doctest::Approx((19 - 18) / 2.0));        // first (101) to peak (103)
  CHECK(f["decline_rate_g"] == doctest::Approx((18.9 - 18) / 4.0));   // peak (103) to last (107)
  CHECK(f["flux_max_g"] == doctest::Approx(mag_to_njy(18)).epsilon(1e-6));
  CHECK(f["n_det_r"] == 2);
  CHECK(f["mag_peak_r"] == doctest::Approx(17.8));
  CHECK(f["mag_range_r"] == doctest::Approx(0.4));
  CHECK(std::isnan(f["rise_rate_r"]));  // the first r point is the brightest
  CHECK(f["decline_rate_r"] == doctest::Approx(0.4 / 3.3));
  CHECK(f["n_det_i"] == 0);
  CHECK(std::isnan(f["mag_peak_i"]));
  CHECK(std::isnan(f["flux_max_i"]));
  CHECK(f["n_det"] == 6);
  CHECK(f["n_upper_limits"] == 1);
  CHECK(f["n_forced"] == 0);
  CHECK(f["days_since_first_det"] == doctest::Approx(6));
  CHECK(f["colour_gr"] == doctest::Approx(18.9 - 18.2));  // latest g (107) vs nearest r (106.5)
}

TEST_CASE("the current detection repeated in the history counts once; no colour beyond a day") {
  AlertCore a = ztf_like();
  a.history.push_back(detection(107, "g", 18.9));
  a.history.erase(a.history.begin() + 5);  // the r point at 106.5: nearest r is now 3.8 days away
  size_t n = 0;
  auto f = features(*find_feature_set("lc-basic/1"), a, &n);
  CHECK(n == 5);
  CHECK(f["n_det_g"] == 4);
  CHECK(std::isnan(f["colour_gr"]));
}

TEST_CASE("Rubin difference fluxes: negative fluxes have no magnitude but count") {
  AlertCore a;
  a.survey = "lsst";
  a.mjd_tai = 60010;
  a.band = "r";
  a.flux = -1500;  // nJy
  a.flux_err = 200;
  a.is_diff_pos = false;
  for (int i = 0; i < 4; ++i) {
    Photometry p;
    p.mjd_tai = 60000 + i;
    p.band = "r";
    p.flux = 1000.0 * (i + 1);
    p.flux_err = 200;
    a.history.push_back(p);
  }
  Photometry forced;
  forced.mjd_tai = 59990;
  forced.band = "r";
  forced.kind = Photometry::Kind::forced;
  forced.flux = 7000;
  forced.flux_err = 300;
  a.history.push_back(forced);
  auto f = features(*find_feature_set("lc-basic/1"), a);
  CHECK(f["n_det_r"] == 5);
  CHECK(f["n_forced"] == 1);
  CHECK(f["flux_max_r"] == doctest::Approx(7000));  // forced photometry counts for the flux peak
  CHECK(f["mag_peak_r"] == doctest::Approx(njy_to_mag(4000)).epsilon(1e-6));
  CHECK(f["rise_rate_r"] == doctest::Approx((njy_to_mag(1000) - njy_to_mag(4000)) / 3).epsilon(1e-5));
  CHECK(std::isnan(f["decline_rate_r"]));  // the last point with a magnitude is the peak
  CHECK(f["days_since_first_det"] == doctest::Approx(10));
  CHECK(std::isnan(njy_to_mag(-1)));
  CHECK(njy_to_mag(mag_to_njy(21.3)) == doctest::Approx(21.3));
  CHECK(mag_to_njy(31.4) == doctest::Approx(1));
}

TEST_CASE("lc-bazin/1 fits the band with most flux points, t0 relative to the alert") {
  BazinParameters truth{8000, 60020, 3, 25, 0};
  AlertCore a;
  a.mjd_tai = 60060;
  a.band = "r";
  a.flux = bazin_flux(truth, 60060);
  a.flux_err = 100;
  for (int i = 0; i < 30; ++i) {
    Photometry p;
    p.mjd_tai = 60000 + 2 * i;
    p.band = i % 5 == 0 ? "g" : "r";
    p.flux = bazin_flux(truth, p.mjd_tai);
    p.flux_err = 100;
    a.history.push_back(p);
  }
  auto f = features(*find_feature_set("lc-bazin/1"), a);
  CHECK(f["bazin_t0"] == doctest::Approx(-40).epsilon(1e-4));
  CHECK(f["bazin_rise"] == doctest::Approx(3).epsilon(1e-3));
  CHECK(f["bazin_fall"] == doctest::Approx(25).epsilon(1e-3));
  CHECK(f["bazin_amplitude"] == doctest::Approx(8000).epsilon(1e-3));
  CHECK(f["bazin_chi2_dof"] < 1e-6);

  a.history.resize(3);  // too few points: the Bazin features are missing, the rest are there
  auto few = features(*find_feature_set("lc-bazin/1"), a);
  CHECK(std::isnan(few["bazin_amplitude"]));
  CHECK(few["n_det"] == 4);
}

TEST_CASE("values that overflow a float are missing, not infinite") {
  AlertCore a;
  a.mjd_tai = 10;
  a.band = "r";
  a.mag = -200;  // 1e92 nJy
  auto f = features(*find_feature_set("lc-basic/1"), a);
  CHECK(std::isnan(f["flux_max_r"]));
  CHECK(f["mag_peak_r"] == -200);
}

TEST_CASE("an alert with no finite time or brightness gives missing values, not a crash") {
  AlertCore a;
  a.band = "g";
  size_t n = 1;
  auto f = features(*find_feature_set("lc-bazin/1"), a, &n);
  CHECK(n == 0);
  CHECK(f["n_det"] == 0);
  CHECK(std::isnan(f["days_since_first_det"]));
  CHECK(std::isnan(f["mag_peak_g"]));
}
