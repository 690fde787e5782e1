// Distances for turning a host's redshift into the luminosity distance of a GW distance posterior.
// One named cosmology: flat ΛCDM with H0 = 70 km/s/Mpc and Ωm = 0.3 (no radiation), the same as
// astropy's FlatLambdaCDM(H0=70, Om0=0.3). Integrals are done numerically with GSL.
#pragma once

#include <string>
#include <string_view>

namespace ebs::coincidence {

class FlatLambdaCDM {
 public:
  FlatLambdaCDM(double hubble_constant_km_s_mpc, double omega_matter);

  // The named cosmologies; "flat-lcdm-h70-om0.3" is the only one for now.
  static FlatLambdaCDM named(std::string_view name);
  static constexpr std::string_view default_name = "flat-lcdm-h70-om0.3";

  double hubble_distance_mpc() const { return hubble_distance_mpc_; }
  // E(z) = H(z)/H0.
  double efunc(double z) const;
  double comoving_distance_mpc(double z) const;
  double luminosity_distance_mpc(double z) const;
  // d D_L / dz, the Jacobian between p(D_L) and p(z).
  double luminosity_distance_derivative_mpc(double z) const;
  // Inverse of luminosity_distance_mpc (root finding); distance >= 0.
  double redshift_at_luminosity_distance(double distance_mpc) const;

 private:
  double hubble_distance_mpc_;
  double omega_matter_;
};

}  // namespace ebs::coincidence
