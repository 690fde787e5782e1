// The "standard siren" H0 posterior of one GW event with an optical counterpart's host redshift
// (docs/followup.md). Along the host's line of sight the map's distance posterior is
// N r² φ(r; μ, σ) under ligo.skymap's r² (uniform in volume) prior, so the distance likelihood is
// φ(r; μ, σ). A flat ΛCDM luminosity distance scales as 1/H0 at fixed z: D_L(z; H0) = u / H0 with
// u = H0_ref · D_L(z; H0_ref) [km/s]. With a Gaussian error σ_v (km/s) on u (peculiar velocity,
// redshift error):
//   L(H0) = ∫ φ(u'/H0; μ, σ) φ(u'; u, σ_v) du' = H0 · φ(u; H0 μ, √(H0² σ² + σ_v²))
//   p(H0 | data) ∝ prior(H0) · L(H0), prior uniform on [h0_min, h0_max], normalised on the grid
// (trapezoid rule). Selection effects (the detectability of the event at each H0) are left out.
#pragma once

#include <vector>

#include "actors/common/skymap/skymap.h"

namespace ebs::followup {

struct SirenOptions {
  double redshift = 0;            // host redshift (CMB frame)
  double velocity_error_km_s = 0; // σ_v
  double omega_matter = 0.3;
  double h0_min = 20, h0_max = 150;  // km/s/Mpc
  int grid_points = 1301;
};

struct H0Posterior {
  std::vector<double> h0, density;  // km/s/Mpc, normalised density per km/s/Mpc
  double hubble_velocity_km_s = 0;  // u
  double mu = 0, sigma = 0;         // the ansatz along the line of sight
  double maximum = 0;               // H0 at the highest density
  double median = 0, lower_68 = 0, upper_68 = 0;  // from the cumulative (trapezoid) distribution
};

// A fault when the map has no distance layers or no support at the host's direction.
H0Posterior h0_posterior(const skymap::Skymap& map, double ra_deg, double dec_deg, const SirenOptions& options);

}  // namespace ebs::followup
