#include "actors/ml/light_curve_features.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/model/light_curve.h"

namespace ebs::ml {

namespace {

constexpr double kAbZeroPointNjy = 31.4;        // m_AB = 31.4 - 2.5 log10(f / nJy)
constexpr double kMagErrToFluxErr = 0.4 * 2.302585092994046;  // sigma_f / f = ln(10)/2.5 sigma_m
constexpr double kColourMaxSeparationDays = 1;  // g and r further apart than this give no colour
constexpr const char* kColourBands[] = {"g", "r", "i"};
constexpr size_t kPerBand = 6;

std::vector<std::string> basic_names() {
  std::vector<std::string> names;
  for (const char* b : kColourBands)
    for (const char* f : {"n_det_", "mag_peak_", "mag_range_", "rise_rate_", "decline_rate_", "flux_max_"})
      names.push_back(std::string(f) + b);
  for (const char* f : {"n_det", "n_upper_limits", "n_forced", "days_since_first_det", "colour_gr"})
    names.emplace_back(f);
  return names;
}

const std::vector<FeatureSet>& feature_sets() {
  static const std::vector<FeatureSet> sets = [] {
    FeatureSet basic{"lc-basic/1", basic_names(), false};
    FeatureSet bazin{"lc-bazin/1", basic_names(), true};
    for (const char* f :
         {"bazin_amplitude", "bazin_t0", "bazin_rise", "bazin_fall", "bazin_baseline", "bazin_chi2_dof"})
      bazin.names.emplace_back(f);
    return std::vector<FeatureSet>{basic, bazin};
  }();
  return sets;
}

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

}  // namespace

const FeatureSet* find_feature_set(std::string_view name) {
  for (const FeatureSet& s : feature_sets())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> feature_set_names() {
  std::vector<std::string> names;
  for (const FeatureSet& s : feature_sets()) names.push_back(s.name);
  return names;
}

double njy_to_mag(double flux_njy) {
  return flux_njy > 0 ? kAbZeroPointNjy - 2.5 * std::log10(flux_njy) : NAN;
}

double mag_to_njy(double mag) { return std::pow(10.0, (kAbZeroPointNjy - mag) / 2.5); }

FeatureExtractor::FeatureExtractor(const FeatureSet& set) : set_(&set) {}

int FeatureExtractor::band_index(std::string_view band) {
  for (size_t i = 0; i < bands_.size(); ++i)
    if (bands_[i] == band) return static_cast<int>(i);
  bands_.push_back(band);
  return static_cast<int>(bands_.size() - 1);
}

void FeatureExtractor::gather(const AlertCore& alert) {
  points_.clear();
  bands_.clear();
  // Fixed slots first, so that band index 0, 1, 2 are g, r, i.
  for (const char* b : kColourBands) bands_.emplace_back(b);

  auto add = [&](double t, std::string_view band, Photometry::Kind kind, double mag, double mag_err, double flux,
                 double flux_err, bool positive) {
    if (!std::isfinite(t)) return;
    Point p{t, NAN, NAN, NAN, band_index(band), kind, false, positive, NAN};
    if (kind != Photometry::Kind::upper_limit) {
      if (std::isfinite(flux)) {
        p.flux = flux;
        p.flux_err = std::isfinite(flux_err) ? flux_err
                     : std::isfinite(mag_err) ? std::abs(flux) * kMagErrToFluxErr * mag_err
                                              : NAN;
        // A magnitude describes a positive flux only: negative subtractions have none.
        p.mag = !(flux > 0) ? NAN : std::isfinite(mag) && positive ? mag : njy_to_mag(flux);
      } else if (std::isfinite(mag)) {
        p.mag = positive ? mag : NAN;
        if (set_->bazin) {  // the fit needs every flux
          p.flux = (positive ? 1 : -1) * mag_to_njy(mag);
          p.flux_err = std::isfinite(flux_err) ? flux_err
                       : std::isfinite(mag_err) ? std::abs(p.flux) * kMagErrToFluxErr * mag_err
                                                : NAN;
        } else {
          p.flux_from_mag = true;
          p.flux_mag = mag;
        }
      }
    }
    points_.push_back(p);
  };

  // The one duplicate rule (engine/model/light_curve.h): a history point that repeats the alert's
  // own detection, or another history point, counts once; the alert's own value is kept.
  const Photometry own = own_detection(alert);
  for (uint32_t i : distinct_points(alert.history, std::isfinite(own.mjd_tai) ? &own : nullptr)) {
    const Photometry& h = alert.history[i];
    add(h.mjd_tai, h.band, h.kind, h.mag, h.mag_err, h.flux, h.flux_err, h.is_diff_pos);
  }
  add(own.mjd_tai, own.band, own.kind, own.mag, own.mag_err, own.flux, own.flux_err, own.is_diff_pos);
}

size_t FeatureExtractor::extract(const AlertCore& alert, float* out) {
  gather(alert);
  std::fill(out, out + size(), kMissing);
  size_t n_det = 0, n_ul = 0, n_forced = 0;
  double first_det = INFINITY;
  for (const Point& p : points_) {
    switch (p.kind) {
      case Photometry::Kind::detection:
        ++n_det;
        first_det = std::min(first_det, p.t);
        break;
      case Photometry::Kind::upper_limit: ++n_ul; break;
      case Photometry::Kind::forced: ++n_forced; break;
    }
  }

  for (int b = 0; b < 3; ++b) {
    size_t count = 0;
    double peak_mag = INFINITY, faint_mag = -INFINITY, t_peak = 0;
    double t_first = INFINITY, m_first = NAN, t_last = -INFINITY, m_last = NAN;
    double flux_max = -INFINITY;
    double brightest_positive = INFINITY, faintest_negative = -INFINITY;  // magnitude-only points
    for (const Point& p : points_) {
      if (p.band != b || p.kind == Photometry::Kind::upper_limit) continue;
      if (std::isfinite(p.flux)) flux_max = std::max(flux_max, p.flux);
      if (p.flux_from_mag) {
        if (p.positive) brightest_positive = std::min(brightest_positive, p.flux_mag);
        else faintest_negative = std::max(faintest_negative, p.flux_mag);
      }
      if (p.kind != Photometry::Kind::detection) continue;
      ++count;
      if (!std::isfinite(p.mag)) continue;
      if (p.mag < peak_mag) {
        peak_mag = p.mag;
        t_peak = p.t;
      }
      faint_mag = std::max(faint_mag, p.mag);
      if (p.t < t_first) {
        t_first = p.t;
        m_first = p.mag;
      }
      if (p.t > t_last) {
        t_last = p.t;
        m_last = p.mag;
      }
    }
    float* f = out + b * kPerBand;
    f[0] = static_cast<float>(count);
    if (std::isfinite(peak_mag)) {
      f[1] = static_cast<float>(peak_mag);
      f[2] = static_cast<float>(faint_mag - peak_mag);
      if (t_peak > t_first) f[3] = static_cast<float>((m_first - peak_mag) / (t_peak - t_first));
      if (t_last > t_peak) f[4] = static_cast<float>((m_last - peak_mag) / (t_last - t_peak));
    }
    // Any positive flux beats any negative one; of negatives, the faintest is the largest.
    if (std::isfinite(brightest_positive)) flux_max = std::max(flux_max, mag_to_njy(brightest_positive));
    else if (std::isfinite(faintest_negative)) flux_max = std::max(flux_max, -mag_to_njy(faintest_negative));
    if (std::isfinite(flux_max)) f[5] = static_cast<float>(flux_max);
  }

  float* g = out + 3 * kPerBand;
  g[0] = static_cast<float>(n_det);
  g[1] = static_cast<float>(n_ul);
  g[2] = static_cast<float>(n_forced);
  if (std::isfinite(first_det) && std::isfinite(alert.mjd_tai)) g[3] = static_cast<float>(alert.mjd_tai - first_det);
  // g - r: the latest g detection against the r detection nearest to it in time.
  const Point* latest_g = nullptr;
  for (const Point& p : points_)
    if (p.band == 0 && p.kind == Photometry::Kind::detection && std::isfinite(p.mag) &&
        (!latest_g || p.t > latest_g->t))
      latest_g = &p;
  if (latest_g) {
    const Point* nearest_r = nullptr;
    for (const Point& p : points_)
      if (p.band == 1 && p.kind == Photometry::Kind::detection && std::isfinite(p.mag) &&
          (!nearest_r || std::abs(p.t - latest_g->t) < std::abs(nearest_r->t - latest_g->t)))
        nearest_r = &p;
    if (nearest_r && std::abs(nearest_r->t - latest_g->t) <= kColourMaxSeparationDays)
      g[4] = static_cast<float>(latest_g->mag - nearest_r->mag);
  }

  if (set_->bazin) {
    // The band with the most flux points (detections and forced photometry).
    std::vector<size_t> per_band(bands_.size(), 0);
    for (const Point& p : points_)
      if (p.kind != Photometry::Kind::upper_limit && std::isfinite(p.flux) && p.flux_err > 0) ++per_band[p.band];
    auto best = static_cast<int>(std::max_element(per_band.begin(), per_band.end()) - per_band.begin());
    t_.clear();
    flux_.clear();
    flux_err_.clear();
    for (const Point& p : points_)
      if (p.band == best && p.kind != Photometry::Kind::upper_limit && std::isfinite(p.flux) && p.flux_err > 0) {
        t_.push_back(p.t);
        flux_.push_back(p.flux);
        flux_err_.push_back(p.flux_err);
      }
    float* z = g + 5;
    if (auto fit = fitter_.fit(t_, flux_, flux_err_)) {
      z[0] = static_cast<float>(fit->parameters.amplitude);
      z[1] = static_cast<float>(fit->parameters.t0 - alert.mjd_tai);
      z[2] = static_cast<float>(fit->parameters.rise);
      z[3] = static_cast<float>(fit->parameters.fall);
      z[4] = static_cast<float>(fit->parameters.baseline);
      z[5] = static_cast<float>(fit->chi2_dof);
    }
  }
  // Absurd inputs (a magnitude of -200) overflow a float: missing, since XGBoost refuses infinities.
  for (size_t i = 0; i < size(); ++i)
    if (std::isinf(out[i])) out[i] = kMissing;
  return n_det;
}

}  // namespace ebs::ml
