#include "actors/ml/bazin_fit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ebs::ml {

namespace {

constexpr size_t kParameters = 5;  // A, t0, log t_rise, log t_fall, B
constexpr size_t kMaxCachedWorkspaces = 64;
constexpr double kMaxExponent = 300;  // keeps exp() finite for absurd trial steps

// log(1 + exp(x)) without overflow.
double softplus(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

struct Points {
  const double* t;  // relative to the first point
  const double* y;
  const double* w;  // 1 / error
  size_t n;
};

// g(x) = exp(-x/t_fall) / (1 + exp(-x/t_rise)), in log space so that it never overflows midway.
double bazin_shape(double x, double rise, double fall) {
  return std::exp(std::min(-x / fall - softplus(-x / rise), kMaxExponent));
}

int residuals(const gsl_vector* p, void* data, gsl_vector* f) {
  const auto& d = *static_cast<const Points*>(data);
  double a = gsl_vector_get(p, 0), t0 = gsl_vector_get(p, 1);
  double rise = std::exp(gsl_vector_get(p, 2)), fall = std::exp(gsl_vector_get(p, 3));
  double b = gsl_vector_get(p, 4);
  if (!std::isfinite(rise) || !std::isfinite(fall) || rise <= 0 || fall <= 0) return GSL_EDOM;
  for (size_t i = 0; i < d.n; ++i)
    gsl_vector_set(f, i, (a * bazin_shape(d.t[i] - t0, rise, fall) + b - d.y[i]) * d.w[i]);
  return GSL_SUCCESS;
}

int jacobian(const gsl_vector* p, void* data, gsl_matrix* J) {
  const auto& d = *static_cast<const Points*>(data);
  double a = gsl_vector_get(p, 0), t0 = gsl_vector_get(p, 1);
  double rise = std::exp(gsl_vector_get(p, 2)), fall = std::exp(gsl_vector_get(p, 3));
  if (!std::isfinite(rise) || !std::isfinite(fall) || rise <= 0 || fall <= 0) return GSL_EDOM;
  for (size_t i = 0; i < d.n; ++i) {
    double x = d.t[i] - t0;
    double g = bazin_shape(x, rise, fall);
    double s = sigmoid(-x / rise);  // d softplus(-x/rise) / d(-x/rise)
    double w = d.w[i];
    gsl_matrix_set(J, i, 0, g * w);
    gsl_matrix_set(J, i, 1, a * g * (1 / fall - s / rise) * w);
    gsl_matrix_set(J, i, 2, -a * g * s * x / rise * w);
    gsl_matrix_set(J, i, 3, a * g * x / fall * w);
    gsl_matrix_set(J, i, 4, w);
  }
  return GSL_SUCCESS;
}

}  // namespace

double bazin_flux(const BazinParameters& p, double t) {
  return p.amplitude * bazin_shape(t - p.t0, p.rise, p.fall) + p.baseline;
}

BazinFitter::BazinFitter() {
  // GSL's default error handler aborts the process; we read the status codes instead.
  gsl_set_error_handler_off();
}

BazinFitter::~BazinFitter() {
  for (auto& [n, w] : workspaces_) gsl_multifit_nlinear_free(static_cast<gsl_multifit_nlinear_workspace*>(w));
}

void* BazinFitter::workspace(size_t points) {
  auto it = workspaces_.find(points);
  if (it != workspaces_.end()) return it->second;
  if (workspaces_.size() >= kMaxCachedWorkspaces) {
    for (auto& [n, w] : workspaces_) gsl_multifit_nlinear_free(static_cast<gsl_multifit_nlinear_workspace*>(w));
    workspaces_.clear();
  }
  gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
  params.trs = gsl_multifit_nlinear_trs_lm;
  gsl_multifit_nlinear_workspace* w =
      gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, points, kParameters);
  workspaces_.emplace(points, w);
  return w;
}

std::optional<BazinFit> BazinFitter::fit(std::span<const double> t, std::span<const double> flux,
                                         std::span<const double> flux_err,
                                         const std::optional<BazinParameters>& initial) {
  // Usable points, on a time axis starting at the first one (keeps the Jacobian well scaled).
  thread_local std::vector<double> tt, yy, ww;
  tt.clear();
  yy.clear();
  ww.clear();
  size_t n_in = std::min({t.size(), flux.size(), flux_err.size()});
  double t_first = INFINITY;
  for (size_t i = 0; i < n_in; ++i)
    if (std::isfinite(t[i]) && std::isfinite(flux[i]) && std::isfinite(flux_err[i]) && flux_err[i] > 0)
      t_first = std::min(t_first, t[i]);
  double peak = -INFINITY, t_peak = 0;
  for (size_t i = 0; i < n_in; ++i) {
    if (!(std::isfinite(t[i]) && std::isfinite(flux[i]) && std::isfinite(flux_err[i]) && flux_err[i] > 0)) continue;
    tt.push_back(t[i] - t_first);
    yy.push_back(flux[i]);
    ww.push_back(1 / flux_err[i]);
    if (flux[i] > peak) {
      peak = flux[i];
      t_peak = t[i] - t_first;
    }
  }
  size_t n = tt.size();
  if (n < kMinPoints || !(peak > 0)) return std::nullopt;

  // Start: a rise of a few days to the brightest point, a slower fall, no baseline. The Bazin
  // shape with these times peaks at ~0.6 A, hence the 1.7.
  BazinParameters start{1.7 * peak, t_peak - 5, 3, 20, 0};
  if (initial) {
    start = *initial;
    start.t0 -= t_first;
  }
  double x0[kParameters] = {start.amplitude, start.t0, std::log(start.rise), std::log(start.fall), start.baseline};
  gsl_vector_view x0_view = gsl_vector_view_array(x0, kParameters);

  Points points{tt.data(), yy.data(), ww.data(), n};
  gsl_multifit_nlinear_fdf fdf;
  fdf.f = residuals;
  fdf.df = jacobian;
  fdf.fvv = nullptr;
  fdf.n = n;
  fdf.p = kParameters;
  fdf.params = &points;

  auto* w = static_cast<gsl_multifit_nlinear_workspace*>(workspace(n));
  if (gsl_multifit_nlinear_init(&x0_view.vector, &fdf, w) != GSL_SUCCESS) return std::nullopt;
  int info = 0;
  int status = gsl_multifit_nlinear_driver(100, 1e-8, 1e-8, 1e-10, nullptr, nullptr, &info, w);
  if (status != GSL_SUCCESS && status != GSL_EMAXITER) return std::nullopt;

  const gsl_vector* x = gsl_multifit_nlinear_position(w);
  BazinFit result;
  result.parameters = {gsl_vector_get(x, 0), gsl_vector_get(x, 1) + t_first, std::exp(gsl_vector_get(x, 2)),
                       std::exp(gsl_vector_get(x, 3)), gsl_vector_get(x, 4)};
  double chi2 = 0;
  gsl_blas_ddot(gsl_multifit_nlinear_residual(w), gsl_multifit_nlinear_residual(w), &chi2);
  result.chi2 = chi2;
  result.points = n;
  result.chi2_dof = chi2 / static_cast<double>(n - kParameters);
  result.iterations = gsl_multifit_nlinear_niter(w);
  const BazinParameters& p = result.parameters;
  if (!std::isfinite(chi2) || !std::isfinite(p.amplitude) || !std::isfinite(p.t0) || !std::isfinite(p.rise) ||
      !std::isfinite(p.fall) || !std::isfinite(p.baseline))
    return std::nullopt;
  return result;
}

}  // namespace ebs::ml
