#include "actors/common/skymap/error_region.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "test/support/skymap_oracle.h"
#include "actors/common/skymap/skymap.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::skymap;

namespace {

constexpr double rad = M_PI / 180;

// The position reached from (ra, dec) after an angular distance d (deg) at position angle pa.
std::pair<double, double> offset_position(double ra, double dec, double d, double pa) {
  double lat = std::asin(std::sin(dec * rad) * std::cos(d * rad) +
                         std::cos(dec * rad) * std::sin(d * rad) * std::cos(pa * rad));
  double lon = ra * rad + std::atan2(std::sin(pa * rad) * std::sin(d * rad) * std::cos(dec * rad),
                                     std::cos(d * rad) - std::sin(dec * rad) * std::sin(lat));
  return {lon / rad, lat / rad};
}

// ∫∫ f over the cap of radius `radius` (deg) around (ra, dec), in polar coordinates.
template <typename F>
double integrate_cap(double ra, double dec, double radius, F&& f, int radial = 800, int azimuthal = 720) {
  double sum = 0, dd = radius * rad / radial, dphi = 2 * M_PI / azimuthal;
  for (int i = 0; i < radial; ++i) {
    double d = (i + 0.5) * dd;
    for (int j = 0; j < azimuthal; ++j) {
      auto [pra, pdec] = offset_position(ra, dec, d / rad, (j + 0.5) * dphi / rad);
      sum += f(pra, pdec) * std::sin(d) * dd * dphi;
    }
  }
  return sum;
}

}  // namespace

TEST_CASE("ellipse containment agrees with astropy's separation and position angle") {
  // Ellipses incl. one across RA 0/360 and one at the pole; points around each.
  std::vector<ErrorRegion> regions = {
      ErrorRegion::ellipse(120.0, 30.0, 3.0, 1.0, 40.0),
      ErrorRegion::ellipse(359.5, -10.0, 2.0, 0.5, 100.0),
      ErrorRegion::ellipse(10.0, 88.5, 4.0, 2.0, 0.0),
      ErrorRegion::ellipse(200.0, -89.0, 1.5, 1.0, 300.0),
      ErrorRegion::circle(0.2, 5.0, 1.2),
  };
  std::mt19937_64 random(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::ostringstream input;
  input.precision(17);
  std::vector<std::pair<std::size_t, std::pair<double, double>>> points;
  for (std::size_t r = 0; r < regions.size(); ++r) {
    for (int i = 0; i < 400; ++i) {
      auto p = offset_position(regions[r].ra, regions[r].dec, 4.5 * std::sqrt(unit(random)), 360 * unit(random));
      double ra = std::fmod(p.first + 720, 360.0);
      points.push_back({r, {ra, p.second}});
      const auto& e = regions[r];
      input << e.ra << " " << e.dec << " " << e.semi_major << " " << e.semi_minor << " " << e.position_angle << " "
            << ra << " " << p.second << "\n";
    }
  }
  auto dir = ebs::test::scratch_dir("ellipse");
  ebs::test::write_text(dir / "points.txt", input.str());
  auto rows = ebs::test::parse_rows(ebs::test::run_python_oracle(R"PY(
import sys
import numpy as np
from astropy.coordinates import SkyCoord
import astropy.units as u
t = np.loadtxt(sys.argv[1], ndmin=2)
c = SkyCoord(t[:, 0] * u.deg, t[:, 1] * u.deg)
p = SkyCoord(t[:, 5] * u.deg, t[:, 6] * u.deg)
d = c.separation(p).deg
phi = np.deg2rad(c.position_angle(p).deg - t[:, 4])
r = np.hypot(d * np.cos(phi) / t[:, 2], d * np.sin(phi) / t[:, 3])
for x in r:
    print(repr(float(x)))
)PY",
                                                                 {(dir / "points.txt").string()}));
  REQUIRE(rows.size() == points.size());
  int inside = 0, outside = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto& region = regions[points[i].first];
    auto [ra, dec] = points[i].second;
    double expected = rows[i][0];
    CHECK(region.normalized_radius(ra, dec) == doctest::Approx(expected).epsilon(1e-9));
    if (std::abs(expected - 1) > 1e-9) {
      CHECK(region.contains(ra, dec) == (expected <= 1));
      (expected <= 1 ? inside : outside)++;
    }
  }
  CHECK(inside > 200);
  CHECK(outside > 200);
}

TEST_CASE("circles at the poles and across RA 0/360") {
  auto north = ErrorRegion::circle(45.0, 89.5, 1.0);
  CHECK(north.contains(225.0, 89.8));   // across the pole
  CHECK(north.contains(0.0, 90.0));
  CHECK_FALSE(north.contains(45.0, 88.0));
  auto south = ErrorRegion::circle(0.0, -90.0, 2.0);
  CHECK(south.contains(123.0, -88.5));
  CHECK_FALSE(south.contains(123.0, -87.5));
  auto wrap = ErrorRegion::circle(359.8, 0.0, 0.5);
  CHECK(wrap.contains(0.2, 0.1));
  CHECK(wrap.contains(-0.1, 0.0));
  CHECK(wrap.contains(360.1, 0.0));
  CHECK_FALSE(wrap.contains(0.5, 0.0));
  CHECK(angular_distance_deg(359.9, 0, 0.1, 0) == doctest::Approx(0.2));
  CHECK(angular_distance_deg(10, 90, 250, 90) == doctest::Approx(0.0));
  CHECK(angular_distance_deg(0, 0, 180, 0) == doctest::Approx(180.0));
  CHECK(position_angle_deg(0, 0, 0, 1) == doctest::Approx(0.0));
  CHECK(position_angle_deg(0, 0, 1, 0) == doctest::Approx(90.0));
  CHECK(position_angle_deg(0.5, 0, 359.5, 0) == doctest::Approx(270.0));
}

TEST_CASE("scaled levels, systematic inflation and GCN localizations") {
  auto region = ErrorRegion::circle(100.0, 10.0, 1.0, 0.9);
  auto half = region.at_containment(0.5);
  CHECK(half.semi_major == doctest::Approx(std::sqrt(std::log(0.5) / std::log(0.1))));
  CHECK(region.contains(100.0, 10.9));
  CHECK_FALSE(region.contains(100.0, 10.9, 0.5));
  CHECK(region.contains(100.0, 11.2, 0.99));
  CHECK(region.scaled(1.5).contains(100.0, 11.4));

  auto inflated = region.with_systematic(1.0);
  CHECK(inflated.semi_major == doctest::Approx(std::sqrt(2.0)));
  CHECK(inflated.systematic_included);
  CHECK(inflated.contains(100.0, 11.3));

  std::ifstream in(ebs::test::data_dir() / "gcn" / "gcn-schema-notices" / "icecube" /
                   "single_neutrino_alerts.gold_bronze_track_alerts.example.json");
  auto notice = nlohmann::json::parse(in);
  auto track = ErrorRegion::from_localization(notice, "icecube.json");
  CHECK(track.ra == 345.82);
  CHECK(track.dec == 9.01);
  CHECK(track.semi_major == 0.5);
  CHECK(track.is_circle());
  CHECK(track.containment == 0.9);
  CHECK_FALSE(track.systematic_included);

  auto ellipse = ErrorRegion::from_localization(
      nlohmann::json{{"ra", 1.0}, {"dec", 2.0}, {"ra_dec_error", {3.0, 1.0, 45.0}}, {"containment_probability", 0.68}},
      "x");
  CHECK(ellipse.semi_minor == 1.0);
  CHECK(ellipse.position_angle == 45.0);
  CHECK(ellipse.containment == 0.68);
  auto one_axis = ErrorRegion::from_localization(nlohmann::json{{"ra", 1.0}, {"dec", 2.0}, {"ra_dec_error", {3.0}}}, "x");
  CHECK(one_axis.semi_minor == 3.0);
  CHECK(one_axis.containment == 0.9);

  auto fails = [](nlohmann::json localization) {
    try {
      ErrorRegion::from_localization(localization, "notice 7");
      return false;
    } catch (const ebs::Fault& fault) {
      return fault.place() == "notice 7";
    }
  };
  CHECK(fails({{"ra", 1.0}, {"dec", 2.0}}));
  CHECK(fails({{"ra", 1.0}, {"dec", 95.0}, {"ra_dec_error", 1.0}}));
  CHECK(fails({{"ra", 1.0}, {"dec", 2.0}, {"ra_dec_error", -1.0}}));
  CHECK(fails({{"ra", 1.0}, {"dec", 2.0}, {"ra_dec_error", 1.0}, {"containment_probability", 1.5}}));
  CHECK(fails({{"ra", 1.0}, {"dec", 2.0}, {"ra_dec_error", {1.0, 2.0, 3.0, 4.0}}}));
  CHECK(fails({{"ra", "x"}, {"dec", 2.0}, {"ra_dec_error", 1.0}}));
}

TEST_CASE("densities hold the containment probability inside the region and integrate to 1") {
  SUBCASE("gaussian circle") {
    auto region = ErrorRegion::circle(30.0, -20.0, 2.0, 0.9);
    RegionDensity density(region);
    CHECK(density.sigma_major_deg() == doctest::Approx(2.0 / std::sqrt(-2 * std::log(0.1))));
    CHECK(integrate_cap(30.0, -20.0, 2.0, density) == doctest::Approx(0.9).epsilon(1e-5));
    CHECK(integrate_cap(30.0, -20.0, 30.0, density, 3000) == doctest::Approx(1.0).epsilon(1e-5));
  }
  SUBCASE("gaussian ellipse at the pole") {
    auto region = ErrorRegion::ellipse(80.0, 89.0, 3.0, 1.0, 30.0, 0.9);
    RegionDensity density(region);
    double inside = integrate_cap(80.0, 89.0, 3.0, [&](double ra, double dec) {
      return region.contains(ra, dec) ? density(ra, dec) : 0.0;
    }, 1500, 1440);
    CHECK(inside == doctest::Approx(0.9).epsilon(2e-3));
    CHECK(integrate_cap(80.0, 89.0, 20.0, density, 2000) == doctest::Approx(1.0).epsilon(1e-5));
  }
  SUBCASE("fisher circle") {
    auto region = ErrorRegion::circle(359.9, 45.0, 10.0, 0.9);
    RegionDensity density(region, DensityModel::fisher);
    CHECK(integrate_cap(359.9, 45.0, 10.0, density) == doctest::Approx(0.9).epsilon(1e-5));
    CHECK(integrate_cap(359.9, 45.0, 180.0, density, 4000) == doctest::Approx(1.0).epsilon(1e-5));
    CHECK_THROWS_AS(RegionDensity(ErrorRegion::ellipse(0, 0, 2, 1, 0), DensityModel::fisher), ebs::Fault);
  }
  SUBCASE("minimum sigma") {
    RegionDensity floored(ErrorRegion::circle(0, 0, 0.01), DensityModel::gaussian, 0.08);
    CHECK(floored.sigma_major_deg() == doctest::Approx(0.08));
  }
  CHECK(density_model_from_string("fisher") == DensityModel::fisher);
  CHECK_THROWS_AS(density_model_from_string("kent"), ebs::Fault);
}

TEST_CASE("overlap of a sky map and an error-region density") {
  // A uniform sky: I = 1 for any region.
  std::vector<std::uint64_t> uniq(12);
  for (std::uint64_t i = 0; i < 12; ++i) uniq[i] = 4 + i;
  Skymap uniform = Skymap::from_columns("uniform", SkymapOrdering::nuniq, {}, uniq, std::vector<double>(12, 1 / (4 * M_PI)), {});
  CHECK(overlap_integral(uniform, RegionDensity(ErrorRegion::circle(10, 80, 5.0))) == doctest::Approx(1.0).epsilon(1e-9));

  // A region much smaller than the map's pixels gives the point value 4π ρ(centre) / N.
  Skymap map = Skymap::from_file((ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string());
  // Near the most probable position (order-9 pixels are ~0.11° across; the region 0.001°).
  double best_ra = 0, best_dec = 0, best = -1;
  for (double ra = 0; ra < 360; ra += 0.5)
    for (double dec = -89.5; dec < 90; dec += 0.5)
      if (double rho = map.probdensity(ra, dec); rho > best) best = rho, best_ra = ra, best_dec = dec;
  RegionDensity tiny(ErrorRegion::circle(best_ra, best_dec, 0.001));
  CHECK(overlap_integral(map, tiny) == doctest::Approx(overlap_integral(map, best_ra, best_dec)).epsilon(1e-3));
  // A broad Fisher region gives something between the point value and the uniform value 1.
  double broad = overlap_integral(map, RegionDensity(ErrorRegion::circle(best_ra, best_dec, 30.0), DensityModel::fisher));
  CHECK(broad > 1.0);
  CHECK(broad < overlap_integral(map, best_ra, best_dec));
}
