#include "actors/ml/synthetic_light_curves.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "actors/ml/bazin_fit.h"
#include "actors/ml/light_curve_features.h"

namespace ebs::ml {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

std::vector<LabelledAlert> make_synthetic_alerts(const SyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 1);
  std::vector<LabelledAlert> out;
  out.reserve(o.objects * o.alerts_per_object);
  for (size_t k = 0; k < o.objects; ++k) {
    const bool transient = u(rng) < 0.5;
    const double t_start = 60000 + 300 * u(rng);
    const double base = 17.5 + 2.5 * u(rng);
    // Transient: Bazin shape normalised to a peak magnitude `base`, peak 5-25 days after t_start.
    BazinParameters bazin{1, t_start + 5 + 20 * u(rng), 1.5 + 5 * u(rng), 12 + 40 * u(rng), 0};
    double peak_flux = 0;
    for (double t = bazin.t0 - 20; t < bazin.t0 + 40; t += 0.05) peak_flux = std::max(peak_flux, bazin_flux(bazin, t));
    const double period = 0.3 + 30 * u(rng), amplitude = 0.2 + 0.8 * u(rng), phase = u(rng);
    const double reference_mag = base + 0.5;  // a variable's template: its mean brightness, fainter side
    auto true_mag = [&](double t, int band) {
      double colour = band == 0 ? (transient ? -0.2 + 0.01 * (t - bazin.t0) : 0.3) : 0.0;
      if (transient) {
        double f = std::max(bazin_flux(bazin, t) / peak_flux, 1e-4);
        return base - 2.5 * std::log10(f) + colour;
      }
      return base + amplitude * std::sin(2 * kPi * ((t - t_start) / period + phase)) + colour;
    };

    std::string id = "SYN" + std::to_string(o.seed) + "_" + std::to_string(k);
    std::vector<Photometry> history;
    double t = t_start;
    size_t total = o.history + o.alerts_per_object;
    for (size_t i = 0; i < total; ++i) {
      int band = static_cast<int>(i % 2);
      t += 0.5 + 3 * u(rng);
      double mag = true_mag(t, band);
      double limit = 20.5 + 0.5 * u(rng);
      double sigma = std::min(0.03 + 0.05 * std::exp((mag - 19) / 1.5), 0.5);
      double observed = mag + sigma * noise(rng);
      Photometry p;
      p.mjd_tai = t;
      p.band = band == 0 ? "g" : "r";
      if (o.rubin_fluxes) {
        // Difference flux against a template: negative when fainter than the template.
        double template_flux = transient ? 0 : mag_to_njy(reference_mag);
        double flux = mag_to_njy(observed) - template_flux;
        p.flux = flux;
        p.flux_err = mag_to_njy(mag) * sigma / 1.0857 + 50;
        p.is_diff_pos = flux > 0;
      } else if (observed > limit) {
        p.kind = Photometry::Kind::upper_limit;
        p.limit_mag = limit;
      } else {
        p.mag = observed;
        p.mag_err = sigma;
      }
      if (i < o.history) {
        history.push_back(p);
        continue;
      }
      auto core = std::make_shared<AlertCore>();
      core->alert_id = (k << 8) + (i - o.history);
      core->object_id = id;
      core->survey = o.rubin_fluxes ? "lsst" : "sim";
      core->ra = 360 * u(rng);
      core->dec = -30 + 60 * u(rng);
      core->mjd_tai = t;
      core->band = p.band;
      if (p.kind == Photometry::Kind::upper_limit) {  // an alert needs a detection: the faint one it is
        p.kind = Photometry::Kind::detection;
        p.mag = observed;
        p.mag_err = sigma;
      }
      core->mag = p.mag;
      core->mag_err = p.mag_err;
      core->flux = p.flux;
      core->flux_err = p.flux_err;
      core->is_diff_pos = p.is_diff_pos;
      core->real_bogus = 0.9;
      core->history = history;
      count_history_detections(*core);
      out.push_back({std::move(core), transient ? 1 : 0});
      history.push_back(p);
    }
  }
  return out;
}

}  // namespace ebs::ml
