// The "standard siren" H0 posterior of one GW event with an optical counterpart's host redshift
// (docs/followup.md). Along the host's line of sight the map's distance posterior is
// N r² φ(r; μ, σ) under ligo.skymap's r² (uniform in volume) prior, so the distance likelihood is
// φ(r; μ, σ). A flat ΛCDM luminosity distance scales as 1/H0 at fixed z: D_L(z; H0) = u / H0 with
// u = H0_ref · D_L(z; H0_ref) [km/s]. With a Gaussian error σ_v (km/s) on u (peculiar velocity,
// redshift error):
//   L(H0) = ∫ φ(u'/H0; μ, σ) φ(u'; u, σ_v) du' = H0 · φ(u; H0 μ, √(H0² σ² + σ_v²))
//   p(H0 | data) ∝ prior(H0) · L(H0) / β(H0), prior uniform on [h0_min, h0_max], normalised on
// the grid (trapezoid rule). β(H0) is the GW selection effect of Chen, Fishbach & Holz 2018
// (Nature 562, 545, eq. 1 and Methods): the fraction of sources of a population uniform in
// comoving volume that a network with a sharp detection horizon D_max (luminosity distance)
// would detect, β(H0) = ∫0^{z_h(H0)} p(z) dz with D_L(z_h; H0) = D_max. In flat ΛCDM
// p(z) ∝ D_C(z)² / E(z) has the same shape at every H0, so β(H0) ∝ [H0 · D_C(z_h; H0)]³
// = [H0 · D_max / (1 + z_h)]³ (∝ H0³ at low z). Without a horizon β = 1 (no selection effect).
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
  // Luminosity distance (Mpc) beyond which the network detects nothing; 0: no selection effect.
  double horizon_mpc = 0;
};

struct H0Posterior {
  std::vector<double> h0, density;  // km/s/Mpc, normalised density per km/s/Mpc
  std::vector<double> selection;    // β(H0) on the grid, relative to its value at the largest H0 (1 without a horizon)
  double hubble_velocity_km_s = 0;  // u
  double mu = 0, sigma = 0;         // the ansatz along the line of sight
  double horizon_mpc = 0;           // the selection effect's D_max (0: none)
  double maximum = 0;               // H0 at the highest density
  double median = 0, lower_68 = 0, upper_68 = 0;  // from the cumulative (trapezoid) distribution
};

// A fault when the map has no distance layers or no support at the host's direction.
H0Posterior h0_posterior(const skymap::Skymap& map, double ra_deg, double dec_deg, const SirenOptions& options);

}  // namespace ebs::followup
