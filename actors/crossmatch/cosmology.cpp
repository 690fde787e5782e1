#include "actors/crossmatch/cosmology.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

#include <cmath>
#include <memory>
#include <string>

#include "engine/util/fault.h"

namespace ebs::crossmatch {

namespace {
constexpr double kSpeedOfLightKmS = 299792.458;
constexpr double kArcsecPerRad = 206264.80624709636;

double inverse_e(double z, void* params) {
  const double om = *static_cast<const double*>(params);
  const double a = 1 + z;
  return 1 / std::sqrt(om * a * a * a + (1 - om));
}
}  // namespace

FlatLambdaCdm::FlatLambdaCdm(double h0_km_s_mpc, double omega_matter) : h0_(h0_km_s_mpc), omega_matter_(omega_matter) {
  if (!(h0_ > 0) || !(omega_matter_ >= 0 && omega_matter_ <= 1))
    fail("cosmology", "H0 must be > 0 and Om0 in [0, 1]");
}

double FlatLambdaCdm::comoving_distance_mpc(double z) const {
  if (!(z > 0)) return 0;
  std::unique_ptr<gsl_integration_workspace, decltype(&gsl_integration_workspace_free)> workspace(
      gsl_integration_workspace_alloc(256), &gsl_integration_workspace_free);
  double om = omega_matter_;
  gsl_function f{&inverse_e, &om};
  double result = 0, error = 0;
  gsl_error_handler_t* previous = gsl_set_error_handler_off();
  const int status = gsl_integration_qag(&f, 0, z, 0, 1e-10, 256, GSL_INTEG_GAUSS31, workspace.get(), &result, &error);
  gsl_set_error_handler(previous);
  if (status != GSL_SUCCESS) fail("cosmology", std::string("comoving distance integral: ") + gsl_strerror(status));
  return kSpeedOfLightKmS / h0_ * result;
}

double FlatLambdaCdm::angular_diameter_distance_mpc(double z) const { return comoving_distance_mpc(z) / (1 + z); }

double FlatLambdaCdm::kpc_per_arcsec(double z) const { return angular_diameter_distance_mpc(z) * 1000 / kArcsecPerRad; }

double kpc_per_arcsec_at_distance(double distance_mpc) { return distance_mpc * 1000 / kArcsecPerRad; }

}  // namespace ebs::crossmatch
