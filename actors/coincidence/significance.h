// Joint significance of multi-messenger coincidences (formulas, defaults and sources in
// docs/coincidence.md).
//   - RAVEN (ligo-raven, gwcelery): temporal coincidence false-alarm rates, untargeted
//     Δt·R_ext·FAR_gw and targeted z(1 − ln(z/z_max)), and the sky-position-coupled FAR = FAR_t / I
//     with the overlap integral I (Ashton et al. 2018, ApJ 860, 6).
//   - A GW × neutrino Bayesian odds ratio in the spirit of LLAMA (Bartos et al. 2019), simplified.
//   - Optical transients: a Poisson chance-coincidence probability from the credible area and the
//     time since the trigger.
#pragma once

namespace ebs::coincidence {

inline constexpr double kSecondsPerYear = 365.25 * 86400.0;

// Untargeted search: FAR_t = (t_hi − t_lo) · R_ext · FAR_gw. Window in s, rates in Hz; result Hz.
double raven_untargeted_far(double window_lo_s, double window_hi_s, double external_rate_hz, double gw_far_hz);

// Targeted (subthreshold) search: z = Δt · FAR_ext · FAR_gw, z_max = Δt · FAR_ext,thr · FAR_gw,thr,
// FAR_t = z (1 − ln(z / z_max)) for z < z_max, else z_max (the threshold's rate). Hz.
double raven_targeted_far(double window_lo_s, double window_hi_s, double external_far_hz, double gw_far_hz,
                          double external_far_threshold_hz, double gw_far_threshold_hz);

// FAR_t / I: a sky overlap I > 1 (localizations agree better than chance) lowers the rate.
double raven_sky_coupled_far(double temporal_far_hz, double overlap_integral);

// GW × neutrino odds of a common astrophysical origin against chance (LLAMA-like, simplified):
//   O = prior_odds · I · [t within window] · (s / (1 − s)) · p_astro_gw / (1 − p_astro_gw)
// with I the sky overlap integral (the Bayes factor of a common position against two
// independent isotropic positions), s the neutrino's signalness (its own astrophysical odds) and
// a uniform-in-window emission time (temporal Bayes factor 1 inside, 0 outside). No distance,
// energy or detector-acceptance terms (docs/coincidence.md says what LLAMA adds).
struct NeutrinoOddsTerms {
  double prior_odds = 0;
  double overlap = 0;
  double in_window = 0;     // 1 or 0
  double neutrino_odds = 0; // s / (1 − s)
  double gw_odds = 0;       // p_astro / (1 − p_astro)
  double odds = 0;
};
NeutrinoOddsTerms gw_neutrino_odds(double prior_odds, double overlap_integral, bool in_window,
                                   double neutrino_signalness, double gw_p_astro);

// Probability that at least one unrelated transient appears by chance in `area_deg2` within
// `elapsed_days` after the trigger: 1 − exp(−ρ · A · Δt), ρ in deg⁻² day⁻¹. Δt is floored at
// `min_elapsed_days` so a detection right at the trigger is not given probability 0.
double chance_coincidence_probability(double transient_density_per_deg2_day, double area_deg2, double elapsed_days,
                                      double min_elapsed_days = 1.0 / 24);

}  // namespace ebs::coincidence
