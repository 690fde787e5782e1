#include "actors/followup/galaxy_targets.h"

#include <doctest/doctest.h>
#include <healpix_cxx/healpix_base.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "test/support/skymap_oracle.h"
#include "actors/followup/followup_command.h"
#include "test/support/multiorder_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::followup;
namespace fs = std::filesystem;

namespace {

fs::path map_path() { return ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits"; }

// A synthetic catalogue drawn from the map's own posterior: pixels by probability, a direction
// uniform in the pixel (a random child at order 16), a distance from p(r | pixel) ∝ r² φ(r; μ, σ)
// by inverse CDF on a grid; distance errors of 5-20 %; B and K magnitudes. Writes the CSV.
const std::string synthetic_catalogue = ebs::test::multiorder_prelude + R"PY(
import sys
path, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
t, uniq, order, ipix = read_multiorder(path)
rho = np.asarray(t['PROBDENSITY'], dtype=np.float64)
mu, sigma, norm = (np.asarray(t[c], dtype=np.float64) for c in ('DISTMU', 'DISTSIGMA', 'DISTNORM'))
prob = rho * np.ldexp(np.pi / 3, -2 * order)
ok = np.isfinite(mu) & (norm > 0) & (sigma > 0)
p = np.where(ok, prob, 0); p /= p.sum()
rng = np.random.default_rng(20220722)
rows = rng.choice(len(p), size=count, p=p)
fine = 16
with open(out, 'w') as f:
    f.write('id,ra,dec,distmpc,dist_err,magb,magk\n')
    for n, r in enumerate(rows):
        shift = 2 * (fine - order[r])
        child = (ipix[r] << shift) + rng.integers(0, np.int64(1) << shift)
        theta, phi = hp.pix2ang(2 ** fine, child, nest=True)
        ra, dec = np.degrees(phi), 90 - np.degrees(theta)
        grid = np.linspace(max(1e-3, mu[r] - 6 * sigma[r]), mu[r] + 6 * sigma[r], 4001)
        pdf = grid ** 2 * np.exp(-0.5 * ((grid - mu[r]) / sigma[r]) ** 2)
        cdf = np.cumsum(pdf); cdf /= cdf[-1]
        d = float(np.interp(rng.random(), cdf, grid))
        err = d * rng.uniform(0.05, 0.2)
        magb = 5 * np.log10(d) + 25 + rng.uniform(-22, -17)
        magk = magb - rng.uniform(2.5, 4.0)
        f.write(f'G{n},{ra!r},{dec!r},{d!r},{err!r},{magb!r},{magk!r}\n')
)PY";

// dP/dV of every catalogue row, evaluated independently: the map read with astropy, the pixel of
// each direction found with healpy at the map's maximum order, the Singer et al. (2016) formula
// with the Gaussian convolution for the distance error, luminosity weights from the magnitude.
// Args: map csv ra dec dist dist_err|- mag|- weight(none|B|K) error_fraction.
// Prints "ra dec dp_dv probability" per row in the CSV's order (probability 0 when unranked).
const std::string galaxy_oracle = ebs::test::multiorder_prelude + R"PY(
import sys
from astropy.table import Table
path, csv, rac, decc, distc, errc, magc, weight, fraction = sys.argv[1:10]
fraction = float(fraction)
t, uniq, order, ipix = read_multiorder(path)
g = Table.read(csv, format='ascii.csv')
def col(name):
    if name == '-': return np.full(len(g), np.nan)
    c = g[name]
    return np.asarray(c.filled(np.nan) if hasattr(c, 'filled') else c, dtype=np.float64)
ra, dec, d, err, mag = col(rac), col(decc), col(distc), col(errc), col(magc)
row = rows_at(order, ipix, ra, dec)
rho = np.asarray(t['PROBDENSITY'], dtype=np.float64)[row]
mu, sigma, norm = (np.asarray(t[c], dtype=np.float64)[row] for c in ('DISTMU', 'DISTSIGMA', 'DISTNORM'))
err = np.where(err >= 0, err, fraction * d)
s = np.sqrt(sigma ** 2 + err ** 2)
with np.errstate(invalid='ignore', over='ignore'):
    dpdv = rho * norm * np.exp(-0.5 * ((d - mu) / s) ** 2) / (s * np.sqrt(2 * np.pi))
usable = np.isfinite(mu) & (norm > 0) & (sigma > 0) & (d > 0) & np.isfinite(d)
dpdv = np.where(usable, dpdv, 0.0)
solar = {'none': 0.0, 'B': 5.48, 'K': 3.28}[weight]
if weight == 'none':
    lum = np.ones(len(g))
else:
    absolute = mag - 5 * np.log10(d) - 25
    lum = 10 ** (-0.4 * (absolute - solar))
    dpdv = np.where(np.isfinite(mag), dpdv, 0.0)
    lum = np.where(np.isfinite(mag), lum, 0.0)
score = lum * dpdv
prob = score / score.sum()
for i in range(len(g)):
    print(repr(float(ra[i])), repr(float(dec[i])), repr(float(dpdv[i])), repr(float(prob[i])))
)PY";

struct Expected {
  double dp_dv, probability;
};

std::map<std::pair<double, double>, Expected> oracle(const fs::path& csv, const std::vector<std::string>& columns,
                                                     const std::string& weight, double fraction) {
  std::vector<std::string> args = {map_path().string(), csv.string()};
  args.insert(args.end(), columns.begin(), columns.end());
  args.push_back(weight);
  std::ostringstream f;
  f.precision(17);
  f << fraction;
  args.push_back(f.str());
  std::map<std::pair<double, double>, Expected> out;
  for (const auto& row : ebs::test::parse_rows(ebs::test::run_python_oracle(galaxy_oracle, args)))
    out[{row[0], row[1]}] = {row[2], row[3]};
  return out;
}

// Every galaxy with a probability matches the oracle to 1e-9 relative and every galaxy the oracle
// ranks is ranked; returns how many have p > 1e-4.
std::size_t check_against_oracle(const GalaxyTable& table, const GalaxyRanking& ranking,
                                 const std::map<std::pair<double, double>, Expected>& expected) {
  std::size_t above = 0, oracle_ranked = 0;
  for (const auto& [position, value] : expected) oracle_ranked += value.probability > 0;
  CHECK(ranking.galaxies.size() == oracle_ranked);
  double cumulative = 0;
  for (const RankedGalaxy& g : ranking.galaxies) {
    auto it = expected.find({table.ra_deg[g.index], table.dec_deg[g.index]});
    REQUIRE(it != expected.end());
    CHECK(g.dp_dv == doctest::Approx(it->second.dp_dv).epsilon(1e-9));
    CHECK(g.probability == doctest::Approx(it->second.probability).epsilon(1e-9));
    cumulative += g.probability;
    CHECK(g.cumulative_probability == doctest::Approx(cumulative).epsilon(1e-12));
    above += g.probability > 1e-4;
  }
  for (std::size_t i = 1; i < ranking.galaxies.size(); ++i)
    CHECK(ranking.galaxies[i - 1].probability >= ranking.galaxies[i].probability);
  if (!ranking.galaxies.empty()) CHECK(ranking.galaxies.back().cumulative_probability == doctest::Approx(1).epsilon(1e-12));
  return above;
}

}  // namespace

TEST_CASE("galaxy targeting: a synthetic catalogue drawn from MS220722v's posterior, against numpy/healpy") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const fs::path dir = ebs::test::scratch_dir("followup-galaxies");
  const fs::path csv = dir / "synthetic.csv";
  // Drawn once: doctest runs this body again for every subcase.
  static const bool drawn = (ebs::test::run_python_oracle(synthetic_catalogue, {map_path().string(), csv.string(), "600"}), true);
  REQUIRE(drawn);
  const fs::path config = dir / "synthetic.yaml";
  ebs::test::write_text(config, "name: synthetic-ms220722v\nfile: " + csv.string() +
                                    "\nformat: csv\ncolumns:\n  id: id\n  ra: ra\n  dec: dec\n"
                                    "  type: {value: galaxy}\n  distance: {column: distmpc, unit: Mpc}\n"
                                    "  magnitude: {column: magb, band: B}\nkeep: [dist_err, magk]\n");
  const fs::path cache = dir / "cache";

  SUBCASE("point distances, no weight") {
    const GalaxyTable table = load_galaxy_table(config, cache);
    REQUIRE(table.size() == 600);
    const GalaxyRanking ranking = rank_galaxies(map, table);
    CHECK(check_against_oracle(table, ranking, oracle(csv, {"ra", "dec", "distmpc", "-", "-"}, "none", 0)) >= 100);
  }
  SUBCASE("distance errors from a column, B-band luminosity weights") {
    GalaxyLoadOptions load;
    load.distance_error_column = "dist_err";
    const GalaxyTable table = load_galaxy_table(config, cache, load);
    REQUIRE(table.magnitude_band == "B");
    GalaxyRankingOptions options;
    options.weight = LuminosityWeight::b_band;
    const GalaxyRanking ranking = rank_galaxies(map, table, options);
    CHECK(check_against_oracle(table, ranking, oracle(csv, {"ra", "dec", "distmpc", "dist_err", "magb"}, "B", 0)) >= 100);
  }
  SUBCASE("K-band weights from a kept column, errors as a fraction of the distance") {
    GalaxyLoadOptions load;
    load.magnitude_column = "magk";
    load.magnitude_band = "K";
    const GalaxyTable table = load_galaxy_table(config, cache, load);
    GalaxyRankingOptions options;
    options.weight = LuminosityWeight::k_band;
    options.distance_error_fraction = 0.1;
    const GalaxyRanking ranking = rank_galaxies(map, table, options);
    CHECK(check_against_oracle(table, ranking, oracle(csv, {"ra", "dec", "distmpc", "-", "magk"}, "K", 0.1)) >= 100);
  }
}

TEST_CASE("galaxy targeting: the real GLADE sample (gwemopt S190814bv) against numpy/healpy") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const fs::path dir = ebs::test::scratch_dir("followup-glade");
  const fs::path config = ebs::test::source_dir() / "catalogs" / "glade-gwemopt-S190814bv.yaml";
  const fs::path csv = ebs::test::data_dir() / "catalogs" / "glade-gwemopt-S190814bv.csv";
  ::setenv("EBS_DATA", ebs::test::data_dir().c_str(), 1);
  SUBCASE("unweighted") {
    const GalaxyTable table = load_galaxy_table(config, dir / "cache");
    REQUIRE(table.size() == 2000);
    const GalaxyRanking ranking = rank_galaxies(map, table);
    CHECK(ranking.galaxies.size() > 1000);
    CHECK(check_against_oracle(table, ranking, oracle(csv, {"ra", "dec", "distmpc", "-", "-"}, "none", 0)) >= 100);
    std::ostringstream out;
    write_galaxy_ranking(table, ranking, 5, 1, out);
    std::istringstream lines(out.str());
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
      auto json = nlohmann::json::parse(line);
      if (json.contains("summary")) {
        CHECK(json["summary"]["galaxies"] == 2000);
        CHECK(json["summary"]["printed"] == 5);
      } else {
        CHECK(json["rank"] == ++count);
      }
    }
    CHECK(count == 5);
  }
  SUBCASE("K-band luminosity weights (magk)") {
    GalaxyLoadOptions load;
    load.magnitude_column = "magk";
    load.magnitude_band = "K";
    const GalaxyTable table = load_galaxy_table(config, dir / "cache", load);
    GalaxyRankingOptions options;
    options.weight = LuminosityWeight::k_band;
    const GalaxyRanking ranking = rank_galaxies(map, table, options);
    check_against_oracle(table, ranking, oracle(csv, {"ra", "dec", "distmpc", "-", "magk"}, "K", 0));
  }
}

TEST_CASE("galaxy targeting: a complete catalogue sums to the map's probability in its volume") {
  // A complete catalogue of uniform density n in a ball of radius R: one galaxy at the centre of
  // every order-9 HEALPix pixel (equal areas; the map's finest order, so the angular sum is exact),
  // at a radius drawn uniformly in volume. Σ dP/dV / n estimates
  // P(r < R) = Σ_pixels prob · ∫_0^R DISTNORM r² φ(r; μ, σ) dr, which numpy evaluates in closed form.
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const double radius = 300;  // Mpc; DISTMEAN 126 ± 44
  const int order = 9;
  const T_Healpix_Base<std::int64_t> grid(order, NEST);
  const std::size_t count = static_cast<std::size_t>(grid.Npix());
  GalaxyTable table;
  std::mt19937_64 random(19);
  std::uniform_real_distribution<double> unit(0, 1);
  for (std::size_t i = 0; i < count; ++i) {
    const pointing centre = grid.pix2ang(static_cast<std::int64_t>(i));
    // Radii stratified too: neighbouring pixels take successive equal-volume shells.
    const double shell = (static_cast<double>(i % 256) + unit(random)) / 256;
    table.push_back("", centre.phi * 180 / M_PI, 90 - centre.theta * 180 / M_PI, radius * std::cbrt(shell), NAN, NAN);
  }
  const GalaxyRanking ranking = rank_galaxies(map, table);
  const double volume = 4.0 / 3.0 * M_PI * radius * radius * radius;
  double sum = 0, sum2 = 0;
  for (const RankedGalaxy& g : ranking.galaxies) {
    sum += g.dp_dv;
    sum2 += g.dp_dv * g.dp_dv;
  }
  const double estimate = sum * volume / count;
  // The iid standard error, an upper bound for this stratified sample.
  const double standard_error = volume * std::sqrt((sum2 / count - (sum / count) * (sum / count)) / count);
  const double expected = std::stod(ebs::test::run_python_oracle(ebs::test::multiorder_prelude + R"PY(
import sys, math
t, uniq, order, ipix = read_multiorder(sys.argv[1])
prob = np.asarray(t['PROBDENSITY'], dtype=np.float64) * np.ldexp(np.pi / 3, -2 * order)
mu, s, n = (np.asarray(t[c], dtype=np.float64) for c in ('DISTMU', 'DISTSIGMA', 'DISTNORM'))
R = float(sys.argv[2])
erf = np.vectorize(math.erf)
def integral(m, s):
    # ∫_0^R r² φ(r; m, s) dr = [(m² + s²) Φ(t) - s (r + m) φ(t)]_{t=-m/s}^{(R-m)/s}
    def F(r):
        t = (r - m) / s
        return (m * m + s * s) * 0.5 * (1 + erf(t / np.sqrt(2))) - s * (r + m) * np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)
    return F(R) - F(0.0)
ok = np.isfinite(mu) & (n > 0) & (s > 0)
print(repr(float(np.sum(prob[ok] * n[ok] * integral(mu[ok], s[ok])))))
)PY", {map_path().string(), std::to_string(radius)}));
  INFO("estimate " << estimate << " ± " << standard_error << ", expected " << expected);
  CHECK(expected > 0.9);  // the ball holds nearly all of the map's probability
  CHECK(standard_error < 0.02 * expected);
  CHECK(std::abs(estimate - expected) < 0.005 * expected);
}

TEST_CASE("galaxy targeting: faults") {
  const auto flat = ebs::skymap::Skymap::from_file((ebs::test::data_dir() / "skymaps" / "rrt_small_area.fits").string());
  GalaxyTable table;
  table.push_back("g", 10, 10, 100, NAN, 15);
  CHECK_THROWS_WITH_AS(rank_galaxies(flat, table), doctest::Contains("no distance layers"), ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_luminosity_weight("V", "--weight"), doctest::Contains("not one of none, B, K"), ebs::Fault);
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  GalaxyTable no_distance;
  no_distance.push_back("a", 98.35, -27.45, NAN, NAN, 15);
  no_distance.push_back("b", 98.35, -27.45, 87, NAN, NAN);
  GalaxyRankingOptions options;
  options.weight = LuminosityWeight::b_band;
  const GalaxyRanking ranking = rank_galaxies(map, no_distance, options);
  CHECK(ranking.without_distance == 1);
  CHECK(ranking.without_magnitude == 1);
  CHECK(ranking.galaxies.empty());
}
