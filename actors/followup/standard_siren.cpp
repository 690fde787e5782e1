#include "actors/followup/standard_siren.h"

#include <cmath>

#include "actors/common/cosmology.h"
#include "engine/util/fault.h"

namespace ebs::followup {

namespace {

constexpr double inverse_sqrt_two_pi = 0.398942280401432677939946059934381868;

double normal_pdf(double x, double mean, double sd) {
  const double t = (x - mean) / sd;
  return std::exp(-0.5 * t * t) * inverse_sqrt_two_pi / sd;
}

// The H0 where the cumulative distribution (piecewise linear between grid points) reaches q.
double quantile(const std::vector<double>& h0, const std::vector<double>& cumulative, double q) {
  for (std::size_t i = 1; i < h0.size(); ++i)
    if (cumulative[i] >= q) {
      const double span = cumulative[i] - cumulative[i - 1];
      return span > 0 ? h0[i - 1] + (q - cumulative[i - 1]) / span * (h0[i] - h0[i - 1]) : h0[i];
    }
  return h0.back();
}

}  // namespace

H0Posterior h0_posterior(const skymap::Skymap& map, double ra_deg, double dec_deg, const SirenOptions& options) {
  if (!map.has_distance()) fail(map.source(), "the sky map has no distance layers: no H0 posterior");
  if (!(options.redshift > 0)) fail(map.source(), "the host redshift must be positive");
  if (!(options.h0_min > 0 && options.h0_max > options.h0_min && options.grid_points >= 3))
    fail(map.source(), "the H0 grid needs 0 < h0_min < h0_max and at least 3 points");
  if (!(options.velocity_error_km_s >= 0)) fail(map.source(), "the velocity error must be >= 0");
  if (!(options.horizon_mpc >= 0 && std::isfinite(options.horizon_mpc)))
    fail(map.source(), "the detection horizon must be a distance >= 0 Mpc (0: no selection effect)");
  const skymap::SkymapLookup lookup = map.at(ra_deg, dec_deg);
  if (!lookup.covered || !lookup.distance || !(lookup.distance->norm > 0) || !std::isfinite(lookup.distance->mu) ||
      !(lookup.distance->sigma > 0))
    fail(map.source(), "the map has no distance support at (" + std::to_string(ra_deg) + ", " +
                           std::to_string(dec_deg) + ")");
  H0Posterior out;
  out.mu = lookup.distance->mu;
  out.sigma = lookup.distance->sigma;
  const FlatLambdaCDM reference(100.0, options.omega_matter);
  out.hubble_velocity_km_s = 100.0 * reference.luminosity_distance_mpc(options.redshift);
  const double sv = options.velocity_error_km_s;
  const int n = options.grid_points;
  out.h0.resize(n);
  out.density.resize(n);
  out.selection.assign(n, 1.0);
  out.horizon_mpc = options.horizon_mpc;
  for (int i = 0; i < n; ++i) {
    const double h0 = options.h0_min + (options.h0_max - options.h0_min) * i / (n - 1);
    out.h0[i] = h0;
    out.density[i] = h0 * normal_pdf(out.hubble_velocity_km_s, h0 * out.mu, std::sqrt(h0 * h0 * out.sigma * out.sigma + sv * sv));
    if (options.horizon_mpc > 0) {
      // z_h where D_L(z_h; H0) = D_max, i.e. D_L(z_h; 100) = H0 · D_max / 100 (D_L ∝ 1/H0 at fixed z).
      const double z_h = reference.redshift_at_luminosity_distance(h0 * options.horizon_mpc / 100.0);
      out.selection[i] = std::pow(h0 * options.horizon_mpc / (1.0 + z_h), 3);
    }
  }
  const double largest = out.selection.back();
  for (int i = 0; i < n; ++i) {
    out.selection[i] /= largest;
    out.density[i] /= out.selection[i];
  }
  std::vector<double> cumulative(n, 0.0);
  for (int i = 1; i < n; ++i)
    cumulative[i] = cumulative[i - 1] + 0.5 * (out.density[i] + out.density[i - 1]) * (out.h0[i] - out.h0[i - 1]);
  const double total = cumulative.back();
  if (!(total > 0)) fail(map.source(), "the H0 likelihood vanishes on the grid");
  std::size_t best = 0;
  for (int i = 0; i < n; ++i) {
    out.density[i] /= total;
    cumulative[i] /= total;
    if (out.density[i] > out.density[best]) best = i;
  }
  out.maximum = out.h0[best];
  out.median = quantile(out.h0, cumulative, 0.5);
  out.lower_68 = quantile(out.h0, cumulative, 0.16);
  out.upper_68 = quantile(out.h0, cumulative, 0.84);
  return out;
}

}  // namespace ebs::followup
