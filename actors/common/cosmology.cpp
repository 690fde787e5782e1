#include "actors/common/cosmology.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "engine/util/fault.h"

namespace ebs {

namespace {
constexpr double kSpeedOfLightKmS = 299792.458;
constexpr double kArcsecPerRad = 206264.80624709636;

double inverse_efunc(double z, void* cosmology) { return 1.0 / static_cast<const FlatLambdaCDM*>(cosmology)->efunc(z); }
}  // namespace

FlatLambdaCDM::FlatLambdaCDM(double hubble_constant_km_s_mpc, double omega_matter)
    : h0_(hubble_constant_km_s_mpc),
      omega_matter_(omega_matter),
      hubble_distance_mpc_(kSpeedOfLightKmS / hubble_constant_km_s_mpc) {
  if (!(h0_ > 0) || !(omega_matter_ >= 0 && omega_matter_ <= 1)) fail("cosmology", "need H0 > 0 and 0 <= Om0 <= 1");
}

FlatLambdaCDM FlatLambdaCDM::named(std::string_view name) {
  if (name == default_name) return FlatLambdaCDM(70.0, 0.3);
  fail("cosmology", "unknown cosmology '" + std::string(name) + "' (known: " + std::string(default_name) + ")");
}

double FlatLambdaCDM::efunc(double z) const {
  double a = 1.0 + z;
  return std::sqrt(omega_matter_ * a * a * a + (1.0 - omega_matter_));
}

double FlatLambdaCDM::comoving_distance_mpc(double z) const {
  if (!(z >= 0) || !std::isfinite(z)) fail("cosmology", "redshift must be finite and >= 0");
  if (z == 0) return 0;
  gsl_function f{&inverse_efunc, const_cast<FlatLambdaCDM*>(this)};
  std::unique_ptr<gsl_integration_cquad_workspace, decltype(&gsl_integration_cquad_workspace_free)> workspace(
      gsl_integration_cquad_workspace_alloc(100), &gsl_integration_cquad_workspace_free);
  double result = 0, error = 0;
  std::size_t evaluations = 0;
  gsl_error_handler_t* previous = gsl_set_error_handler_off();  // report, don't abort
  int status = gsl_integration_cquad(&f, 0.0, z, 0.0, 1e-13, workspace.get(), &result, &error, &evaluations);
  gsl_set_error_handler(previous);
  if (status != GSL_SUCCESS) fail("cosmology", std::string("comoving distance integral failed: ") + gsl_strerror(status));
  return hubble_distance_mpc_ * result;
}

double FlatLambdaCDM::luminosity_distance_mpc(double z) const { return (1.0 + z) * comoving_distance_mpc(z); }

double FlatLambdaCDM::angular_diameter_distance_mpc(double z) const { return comoving_distance_mpc(z) / (1.0 + z); }

double FlatLambdaCDM::luminosity_distance_derivative_mpc(double z) const {
  return comoving_distance_mpc(z) + (1.0 + z) * hubble_distance_mpc_ / efunc(z);
}

double FlatLambdaCDM::redshift_at_luminosity_distance(double distance_mpc) const {
  if (!(distance_mpc >= 0) || !std::isfinite(distance_mpc))
    fail("cosmology", "luminosity distance must be finite and >= 0");
  if (distance_mpc == 0) return 0;
  // Newton steps on the smooth, monotonic D_L(z), started from the Hubble-law guess.
  double z = distance_mpc / hubble_distance_mpc_;
  for (int i = 0; i < 100; ++i) {
    double step = (luminosity_distance_mpc(z) - distance_mpc) / luminosity_distance_derivative_mpc(z);
    double next = z - step;
    if (next <= 0) next = z / 2;
    if (std::abs(next - z) <= 1e-15 * std::max(1.0, z)) return next;
    z = next;
  }
  return z;
}

double FlatLambdaCDM::kpc_per_arcsec(double z) const { return angular_diameter_distance_mpc(z) * 1000 / kArcsecPerRad; }

double kpc_per_arcsec_at_distance(double distance_mpc) { return distance_mpc * 1000 / kArcsecPerRad; }

}  // namespace ebs
