// The Bazin et al. (2009) light-curve model, fitted in flux space by GSL's non-linear least
// squares (gsl_multifit_nlinear, Levenberg-Marquardt, analytic Jacobian):
//   f(t) = A · exp(-(t - t0)/t_fall) / (1 + exp(-(t - t0)/t_rise)) + B
// Difference fluxes may be negative (Rubin nJy, ATLAS uJy): the fit takes them as they are.
// The rise and fall times are fitted as logarithms, so they stay positive.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>

namespace ebs::ml {

struct BazinParameters {
  double amplitude = 0;  // A, flux units of the input
  double t0 = 0;         // same time axis as the input
  double rise = 0;       // days
  double fall = 0;       // days
  double baseline = 0;   // B
};

struct BazinFit {
  BazinParameters parameters;
  double chi2 = 0;      // sum of squared weighted residuals
  double chi2_dof = 0;  // chi2 / (n - 5)
  size_t points = 0;
  size_t iterations = 0;
};

// The model's flux at time t.
double bazin_flux(const BazinParameters& p, double t);

// Fits one band's points. Keeps one GSL workspace per point count, so refitting is allocation
// free; one fitter per thread (GSL workspaces are not shared).
class BazinFitter {
 public:
  static constexpr size_t kMinPoints = 6;  // five parameters and at least one degree of freedom

  BazinFitter();
  ~BazinFitter();
  BazinFitter(const BazinFitter&) = delete;
  BazinFitter& operator=(const BazinFitter&) = delete;

  // Points with a non-finite time, flux or a non-positive error are skipped. No fit (nullopt) with
  // fewer than kMinPoints usable points, no positive flux, or when the solver fails or diverges.
  // `initial` overrides the built-in starting point (tests).
  std::optional<BazinFit> fit(std::span<const double> t, std::span<const double> flux,
                              std::span<const double> flux_err,
                              const std::optional<BazinParameters>& initial = std::nullopt);

 private:
  void* workspace(size_t points);  // a gsl_multifit_nlinear_workspace (an anonymous struct in GSL)
  std::map<size_t, void*> workspaces_;
};

}  // namespace ebs::ml
