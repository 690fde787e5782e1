// Flat ΛCDM distances for host-galaxy association: the physical (proper) size of an arcsecond at
// a redshift, as astropy's FlatLambdaCDM(H0, Om0).kpc_proper_per_arcmin / 60 (no radiation).
#pragma once

namespace ebs::crossmatch {

class FlatLambdaCdm {
 public:
  FlatLambdaCdm(double h0_km_s_mpc = 70.0, double omega_matter = 0.3);
  double h0() const { return h0_; }
  double omega_matter() const { return omega_matter_; }

  // Comoving distance (Mpc) to redshift z: (c/H0) ∫0^z dz'/E(z'), integrated with GSL (QAG).
  double comoving_distance_mpc(double z) const;
  double angular_diameter_distance_mpc(double z) const;
  // Proper kpc per arcsec at redshift z.
  double kpc_per_arcsec(double z) const;

 private:
  double h0_, omega_matter_;
};

// Proper kpc per arcsec at a redshift-independent distance (nearby galaxies: the distance is
// taken as the angular-diameter distance).
double kpc_per_arcsec_at_distance(double distance_mpc);

}  // namespace ebs::crossmatch
