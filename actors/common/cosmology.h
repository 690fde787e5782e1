// Flat ΛCDM distances, the one cosmology unit every actor family uses: luminosity distances for GW
// distance posteriors (coincidence) and the proper size of an arcsecond for host-galaxy
// association (crossmatch/classify). Matches astropy's FlatLambdaCDM(H0, Om0) without radiation;
// the integral ∫ dz/E(z) is done with GSL's CQUAD to 1e-13 relative.
#pragma once

#include <string_view>

namespace ebs {

class FlatLambdaCDM {
 public:
  // H0 in km/s/Mpc; a fault unless H0 > 0 and 0 <= Om0 <= 1.
  explicit FlatLambdaCDM(double hubble_constant_km_s_mpc = 70.0, double omega_matter = 0.3);

  // Named cosmologies for configurations; "flat-lcdm-h70-om0.3" is the only one for now.
  static FlatLambdaCDM named(std::string_view name);
  static constexpr std::string_view default_name = "flat-lcdm-h70-om0.3";

  double h0() const { return h0_; }
  double omega_matter() const { return omega_matter_; }
  double hubble_distance_mpc() const { return hubble_distance_mpc_; }
  // E(z) = H(z)/H0.
  double efunc(double z) const;
  // (c/H0) ∫0^z dz'/E(z'); a fault for a negative or non-finite z.
  double comoving_distance_mpc(double z) const;
  double luminosity_distance_mpc(double z) const;
  double angular_diameter_distance_mpc(double z) const;
  // d D_L / dz, the Jacobian between p(D_L) and p(z).
  double luminosity_distance_derivative_mpc(double z) const;
  // Inverse of luminosity_distance_mpc (Newton steps); distance >= 0.
  double redshift_at_luminosity_distance(double distance_mpc) const;
  // Proper kpc per arcsec at redshift z (astropy's kpc_proper_per_arcmin / 60).
  double kpc_per_arcsec(double z) const;

 private:
  double h0_;
  double omega_matter_;
  double hubble_distance_mpc_;
};

// Proper kpc per arcsec at a redshift-independent distance (nearby galaxies: the distance is
// taken as the angular-diameter distance).
double kpc_per_arcsec_at_distance(double distance_mpc);

}  // namespace ebs
