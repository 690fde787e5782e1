// The standard-siren H0 posterior against numpy/astropy evaluating the same formula another way:
// the likelihood by numerical integration over the Hubble velocity (not the closed form), and the
// GW selection effect β(H0) of Chen, Fishbach & Holz 2018 as astropy's comoving volume out to the
// redshift where astropy's luminosity distance reaches the horizon (z_at_value), times H0³.
#include "actors/followup/standard_siren.h"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "actors/common/cosmology.h"
#include "actors/followup/galaxy_targets.h"
#include "test/support/multiorder_oracle.h"
#include "engine/util/fault.h"
#include "test/support/skymap_oracle.h"
#include "test/support/test_data.h"

using namespace ebs::followup;

namespace {

std::filesystem::path map_path() { return ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits"; }

std::string exact(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

// numpy/astropy's posterior for a host at (ra, dec, z), σ_v = 250 km/s, a grid of `points` on
// [20, 150] and a horizon (0: no selection effect). Rows: "u mu sigma", then "h0 density beta".
std::vector<std::vector<double>> oracle_posterior(double ra, double dec, double z, double horizon, int points) {
  return ebs::test::parse_rows(ebs::test::run_python_oracle(ebs::test::multiorder_prelude + R"PY(
import sys
import astropy.units as u
from astropy.cosmology import FlatLambdaCDM, z_at_value
path, ra, dec, z, horizon, points = sys.argv[1], *map(float, sys.argv[2:6]), int(sys.argv[6])
t, uniq, order, ipix = read_multiorder(path)
row = int(rows_at(order, ipix, np.array([ra]), np.array([dec]))[0])
mu, sigma = float(t['DISTMU'][row]), float(t['DISTSIGMA'][row])
u_hubble = 100.0 * FlatLambdaCDM(H0=100, Om0=0.3).luminosity_distance(z).value
sv = 250.0
h0 = np.linspace(20, 150, points)
v = np.linspace(u_hubble - 12 * sv, u_hubble + 12 * sv, 20001)
gauss = lambda x, m, s: np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
like = np.array([np.trapz(gauss(v / h, mu, sigma) * gauss(v, u_hubble, sv), v) for h in h0])
# beta(H0): sources uniform in comoving volume (p(z) of the same shape at every H0), detected out
# to the redshift where D_L(z; H0) = horizon: V_c(z_h; H0) (H0/c)^3, up to a constant.
beta = np.ones(points)
if horizon > 0:
    beta = []
    for h in h0:
        cosmo = FlatLambdaCDM(H0=h, Om0=0.3)
        zh = z_at_value(cosmo.luminosity_distance, horizon * u.Mpc, zmax=5, ztol=1e-13, maxfun=2000)
        beta.append(cosmo.comoving_volume(zh).to_value(u.Mpc ** 3) * h ** 3)
    beta = np.array(beta) / beta[-1]
density = like / beta
density /= np.trapz(density, h0)
print(u_hubble, mu, sigma)
for h, d, b in zip(h0, density, beta):
    print(h, d, b)
)PY", {map_path().string(), exact(ra), exact(dec), exact(z), exact(horizon), std::to_string(points)}));
}

void check_against_oracle(const H0Posterior& posterior, const std::vector<std::vector<double>>& rows) {
  REQUIRE(rows.size() == posterior.h0.size() + 1);
  CHECK(posterior.hubble_velocity_km_s == doctest::Approx(rows[0][0]).epsilon(1e-10));
  CHECK(posterior.mu == rows[0][1]);
  CHECK(posterior.sigma == rows[0][2]);
  double peak = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) peak = std::max(peak, rows[i][1]);
  for (std::size_t i = 0; i < posterior.h0.size(); ++i) {
    INFO("H0 = " << rows[i + 1][0]);
    CHECK(posterior.h0[i] == doctest::Approx(rows[i + 1][0]).epsilon(1e-12));
    CHECK(posterior.selection[i] == doctest::Approx(rows[i + 1][2]).epsilon(1e-9));
    // Numerical integration (20001 points over ±12σ_v) against the closed form.
    CHECK(posterior.density[i] == doctest::Approx(rows[i + 1][1]).epsilon(1e-6).scale(peak));
  }
  CHECK(posterior.lower_68 < posterior.median);
  CHECK(posterior.median < posterior.upper_68);
}

}  // namespace

TEST_CASE("standard-siren H0 for MS220722v and its most probable GLADE host, against numpy/astropy") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  ::setenv("EBS_DATA", ebs::test::data_dir().c_str(), 1);
  const GalaxyTable galaxies = load_galaxy_table(ebs::test::source_dir() / "catalogs" / "glade-gwemopt-S190814bv.yaml",
                                                 ebs::test::scratch_dir("followup-h0") / "cache");
  const GalaxyRanking ranking = rank_galaxies(map, galaxies);
  REQUIRE(!ranking.galaxies.empty());
  const std::uint32_t host = ranking.galaxies.front().index;
  REQUIRE(galaxies.redshift[host] > 0);
  SirenOptions options;
  options.redshift = galaxies.redshift[host];
  options.velocity_error_km_s = 250;
  const H0Posterior posterior = h0_posterior(map, galaxies.ra_deg[host], galaxies.dec_deg[host], options);
  check_against_oracle(posterior, oracle_posterior(galaxies.ra_deg[host], galaxies.dec_deg[host], options.redshift, 0, 1301));
  CHECK(posterior.maximum > 20);
  CHECK(posterior.maximum < 150);
  CHECK(posterior.selection == std::vector<double>(1301, 1.0));  // no horizon: no selection effect
}

TEST_CASE("standard-siren H0 with a detection horizon: L(H0) / beta(H0) against numpy/astropy") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const std::pair<double, double> peak = map.peak();
  const double ra = peak.first, dec = peak.second;
  SirenOptions options;
  options.grid_points = 261;
  options.velocity_error_km_s = 250;
  options.redshift = 0.01;
  const double mu = h0_posterior(map, ra, dec, options).mu;
  // A host at the redshift where the map's distance falls at H0 = 70, a horizon 1.5 times as far.
  options.redshift = ebs::FlatLambdaCDM(70, 0.3).redshift_at_luminosity_distance(mu);
  const H0Posterior without = h0_posterior(map, ra, dec, options);
  options.horizon_mpc = 1.5 * mu;
  const H0Posterior posterior = h0_posterior(map, ra, dec, options);
  CHECK(posterior.horizon_mpc == options.horizon_mpc);
  // β grows with H0 (a larger H0 puts the horizon at a larger redshift): it pulls the posterior down.
  CHECK(posterior.selection.front() < posterior.selection.back());
  CHECK(posterior.median < without.median);
  check_against_oracle(posterior, oracle_posterior(ra, dec, options.redshift, options.horizon_mpc, 261));
}

TEST_CASE("a negative or non-finite horizon is refused") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const std::pair<double, double> peak = map.peak();
  SirenOptions options;
  options.redshift = 0.05;
  options.horizon_mpc = -1;
  CHECK_THROWS_WITH_AS(h0_posterior(map, peak.first, peak.second, options), doctest::Contains("detection horizon"),
                       ebs::Fault);
  options.horizon_mpc = NAN;
  CHECK_THROWS_WITH_AS(h0_posterior(map, peak.first, peak.second, options), doctest::Contains("detection horizon"),
                       ebs::Fault);
}
