// The standard-siren H0 posterior with the GW selection effect β(H0) of Chen, Fishbach & Holz
// 2018 against numpy/astropy evaluating the same formula another way: the likelihood by numerical
// integration over the Hubble velocity, β(H0) as astropy's comoving volume out to the redshift
// where astropy's luminosity distance reaches the horizon (z_at_value), times H0³.
#include "actors/followup/standard_siren.h"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "actors/common/cosmology.h"
#include "actors/followup/multiorder_oracle.h"
#include "engine/util/fault.h"
#include "test/support/skymap_oracle.h"
#include "test/support/test_data.h"

using namespace ebs::followup;

namespace {

std::string exact(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

TEST_CASE("standard-siren H0 with a detection horizon: L(H0) / beta(H0) against numpy/astropy") {
  const auto path = ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits";
  const auto map = ebs::skymap::Skymap::from_file(path.string());
  const std::pair<double, double> peak = map.peak();
  const double ra = peak.first, dec = peak.second;
  SirenOptions options;
  options.grid_points = 261;
  options.velocity_error_km_s = 250;
  const H0Posterior plain = [&] {
    SirenOptions probe = options;
    probe.redshift = 0.01;
    return h0_posterior(map, ra, dec, probe);
  }();
  // A host at the redshift where the map's distance falls at H0 = 70, a horizon 1.5 times as far.
  options.redshift = ebs::FlatLambdaCDM(70, 0.3).redshift_at_luminosity_distance(plain.mu);
  options.horizon_mpc = 1.5 * plain.mu;
  const H0Posterior without = [&] {
    SirenOptions none = options;
    none.horizon_mpc = 0;
    return h0_posterior(map, ra, dec, none);
  }();
  const H0Posterior posterior = h0_posterior(map, ra, dec, options);
  CHECK(posterior.horizon_mpc == options.horizon_mpc);
  // β grows with H0 (a larger H0 puts the horizon at a larger redshift): it pulls the posterior down.
  CHECK(posterior.median < without.median);
  CHECK(posterior.selection.front() < posterior.selection.back());
  CHECK(without.selection == std::vector<double>(261, 1.0));

  const auto rows = ebs::test::parse_rows(ebs::test::run_python_oracle(ebs::test::multiorder_prelude + R"PY(
import sys
import astropy.units as u
from astropy.cosmology import FlatLambdaCDM, z_at_value
path, ra, dec, z, horizon = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
t, uniq, order, ipix = read_multiorder(path)
row = int(rows_at(order, ipix, np.array([ra]), np.array([dec]))[0])
mu, sigma = float(t['DISTMU'][row]), float(t['DISTSIGMA'][row])
u_hubble = 100.0 * FlatLambdaCDM(H0=100, Om0=0.3).luminosity_distance(z).value
sv = 250.0
h0 = np.linspace(20, 150, 261)
v = np.linspace(u_hubble - 12 * sv, u_hubble + 12 * sv, 20001)
gauss = lambda x, m, s: np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
like = np.array([np.trapz(gauss(v / h, mu, sigma) * gauss(v, u_hubble, sv), v) for h in h0])
# beta(H0): sources uniform in comoving volume, p(z) of the same shape at every H0, detected out to
# the redshift where D_L(z; H0) = horizon: V_c(z_h; H0) (c/H0)^-3, up to a constant.
beta = []
for h in h0:
    cosmo = FlatLambdaCDM(H0=h, Om0=0.3)
    zh = z_at_value(cosmo.luminosity_distance, horizon * u.Mpc, zmax=5, ztol=1e-13, maxfun=2000)
    beta.append(cosmo.comoving_volume(zh).to_value(u.Mpc ** 3) * h ** 3)
beta = np.array(beta) / beta[-1]
density = like / beta
density /= np.trapz(density, h0)
for h, d, b in zip(h0, density, beta):
    print(h, d, b)
)PY", {path.string(), exact(ra), exact(dec), exact(options.redshift), exact(options.horizon_mpc)}));
  REQUIRE(rows.size() == 261);
  double peak = 0;
  for (const auto& r : rows) peak = std::max(peak, r[1]);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    INFO("H0 = " << rows[i][0]);
    CHECK(posterior.h0[i] == doctest::Approx(rows[i][0]).epsilon(1e-12));
    CHECK(posterior.selection[i] == doctest::Approx(rows[i][2]).epsilon(1e-9));
    CHECK(posterior.density[i] == doctest::Approx(rows[i][1]).epsilon(1e-6).scale(peak));
  }
}

TEST_CASE("a negative or non-finite horizon is refused") {
  const auto map = ebs::skymap::Skymap::from_file(
      (ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string());
  const auto [ra, dec] = map.peak();
  SirenOptions options;
  options.redshift = 0.05;
  options.horizon_mpc = -1;
  CHECK_THROWS_WITH_AS(h0_posterior(map, ra, dec, options), doctest::Contains("detection horizon"), ebs::Fault);
}
