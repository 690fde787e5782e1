#include "actors/coincidence/significance.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ebs::coincidence {

double raven_untargeted_far(double window_lo_s, double window_hi_s, double external_rate_hz, double gw_far_hz) {
  return (window_hi_s - window_lo_s) * external_rate_hz * gw_far_hz;
}

double raven_targeted_far(double window_lo_s, double window_hi_s, double external_far_hz, double gw_far_hz,
                          double external_far_threshold_hz, double gw_far_threshold_hz) {
  double window = window_hi_s - window_lo_s;
  double z = window * external_far_hz * gw_far_hz;
  double z_max = window * external_far_threshold_hz * gw_far_threshold_hz;
  if (!(z > 0)) return 0;
  if (z >= z_max) return z_max;
  return z * (1 - std::log(z / z_max));
}

double raven_sky_coupled_far(double temporal_far_hz, double overlap_integral) {
  if (!(overlap_integral > 0)) return INFINITY;
  return temporal_far_hz / overlap_integral;
}

NeutrinoOddsTerms gw_neutrino_odds(double prior_odds, double overlap_integral, bool in_window,
                                   double neutrino_signalness, double gw_p_astro) {
  auto odds_of = [](double p) {
    if (!(p >= 0)) return 1.0;  // unknown: neutral
    if (p >= 1) return std::numeric_limits<double>::infinity();
    return p / (1 - p);
  };
  NeutrinoOddsTerms t;
  t.prior_odds = prior_odds;
  t.overlap = overlap_integral;
  t.in_window = in_window ? 1 : 0;
  t.neutrino_odds = odds_of(neutrino_signalness);
  t.gw_odds = odds_of(gw_p_astro);
  t.odds = t.in_window == 0 ? 0 : prior_odds * overlap_integral * t.neutrino_odds * t.gw_odds;
  return t;
}

double chance_coincidence_probability(double density, double area_deg2, double elapsed_days, double min_elapsed_days) {
  double dt = std::max(elapsed_days, min_elapsed_days);
  return -std::expm1(-density * area_deg2 * dt);
}

}  // namespace ebs::coincidence
