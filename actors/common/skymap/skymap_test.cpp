#include "actors/common/skymap/skymap.h"

#include <doctest/doctest.h>
#include <healpix_cxx/healpix_base.h>

#include <cmath>
#include <random>

#include "actors/common/cosmology.h"
#include "test/support/skymap_oracle.h"
#include "actors/common/skymap/skymap_notice.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::skymap;
using ebs::FlatLambdaCDM;
namespace fs = std::filesystem;

namespace {

// ligo.skymap postprocess/crossmatch.py's searched_prob / searched_area / probdensity, written
// again with numpy + astropy + healpy. Input: a FITS file or an LVK JSON notice, and a file of
// "ra dec" lines. Output: "integral area50 area90" then per position
// "probdensity searched_prob searched_area distmu distsigma distnorm".
const char* crossmatch_oracle = R"PY(
import sys, io, json, base64
import numpy as np
from astropy.io import fits
import healpy as hp

path, positions_path = sys.argv[1], sys.argv[2]
if path.endswith('.json'):
    with open(path) as f:
        notice = json.load(f)
    hdul = fits.open(io.BytesIO(base64.b64decode(notice['event']['skymap'])))
else:
    hdul = fits.open(path)
hdu = hdul[1]
table = hdu.data
names = [n.upper() for n in table.columns.names]
ordering = hdu.header['ORDERING'].strip()
has_dist = 'DISTMU' in names
if ordering == 'NUNIQ':
    uniq = np.asarray(table['UNIQ'], dtype=np.int64)
    rho = np.asarray(table['PROBDENSITY'], dtype=np.float64)
    dist = [np.asarray(table[c], dtype=np.float64) for c in ('DISTMU', 'DISTSIGMA', 'DISTNORM')] if has_dist else []
else:
    prob = np.asarray(table['PROB'], dtype=np.float64).ravel()
    npix = prob.size
    nside = hp.npix2nside(npix)
    level = int(round(np.log2(nside)))
    ipix = np.arange(npix, dtype=np.int64)
    nest = ipix if ordering == 'NESTED' else hp.ring2nest(nside, ipix).astype(np.int64)
    uniq = nest + np.int64(4) ** (level + 1)
    rho = prob / np.ldexp(np.pi / 3, -2 * level)
    dist = [np.asarray(table[c], dtype=np.float64).ravel() for c in ('DISTMU', 'DISTSIGMA', 'DISTNORM')] if has_dist else []

# A structured array with UNIQ first, as read_sky_map(moc=True) returns it: numpy's sort on
# PROBDENSITY then breaks ties by UNIQ.
fields = [('UNIQ', np.int64), ('PROBDENSITY', np.float64)]
columns = [uniq, rho]
if has_dist:
    fields += [('DISTMU', np.float64), ('DISTSIGMA', np.float64), ('DISTNORM', np.float64)]
    columns += dist
sky_map = np.empty(len(uniq), dtype=fields)
for (name, _), column in zip(fields, columns):
    sky_map[name] = column

# --- crossmatch.py ---
sky_map = np.flipud(np.sort(sky_map, order='PROBDENSITY'))
u = sky_map['UNIQ']
order = (np.floor(np.log2(u) / 2)).astype(np.int64) - 1
ipix = u - np.int64(4) ** (order + 1)
max_order = np.max(order)
max_nside = 2 ** int(max_order)
max_ipix = ipix << np.int64(2 * (max_order - order))
dA = np.ldexp(np.pi / 3, -2 * order)
dP = sky_map['PROBDENSITY'] * dA
prob = np.cumsum(dP)
area = np.cumsum(dA) * np.square(180 / np.pi)

radec = np.loadtxt(positions_path, ndmin=2)
true_theta = np.clip(0.5 * np.pi - np.deg2rad(radec[:, 1]), 0, np.pi)
true_phi = np.deg2rad(radec[:, 0])
true_pix = hp.ang2pix(max_nside, true_theta, true_phi, nest=True)
i = np.argsort(max_ipix)
true_idx = i[np.digitize(true_pix, max_ipix[i]) - 1]

contour_areas = np.interp([0.5, 0.9], prob, area, left=0, right=4 * 180**2 / np.pi)
print(repr(float(prob[-1])), repr(float(contour_areas[0])), repr(float(contour_areas[1])))
for k in true_idx:
    row = [sky_map['PROBDENSITY'][k], prob[k], area[k]]
    row += [sky_map['DISTMU'][k], sky_map['DISTSIGMA'][k], sky_map['DISTNORM'][k]] if has_dist else [0.0, 0.0, 0.0]
    print(' '.join(repr(float(x)) for x in row))
)PY";

struct Position {
  double ra, dec;
};

// Random positions over the sphere, the poles, RA 0/360 and the map's most probable pixels.
std::vector<Position> test_positions(const Skymap& map) {
  std::vector<Position> positions;
  std::mt19937_64 random(20240722);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 250; ++i)
    positions.push_back({360.0 * unit(random), std::asin(2 * unit(random) - 1) * 180 / M_PI});
  for (double ra : {0.0, 45.0, 123.4, 271.0, 360.0}) {
    positions.push_back({ra, 90.0});
    positions.push_back({ra, -90.0});
  }
  for (double dec : {-89.99, -60.0, -12.5, 0.0, 33.3, 75.0, 89.99}) {
    for (double ra : {0.0, 1e-9, 359.9999999, 360.0, 359.95, 0.05}) positions.push_back({ra, dec});
  }
  // Near the peak, where searched_prob is small and the ranking matters most.
  auto uniq = map.ranked_uniq();
  for (std::size_t rank = 0; rank < std::min<std::size_t>(40, uniq.size()); ++rank) {
    int order = (std::bit_width(uniq[rank]) - 1) / 2 - 1;
    std::int64_t ipix = static_cast<std::int64_t>(uniq[rank] - (std::uint64_t{4} << (2 * order)));
    T_Healpix_Base<int64_t> base(order, NEST);
    pointing centre = base.pix2ang(ipix);
    double ra = centre.phi * 180 / M_PI, dec = 90 - centre.theta * 180 / M_PI;
    positions.push_back({ra, dec});
    positions.push_back({ra + 0.01 * unit(random), std::clamp(dec + 0.01 * (unit(random) - 0.5), -90.0, 90.0)});
  }
  return positions;
}

void check_against_oracle(const Skymap& map, const std::string& oracle_input) {
  auto positions = test_positions(map);
  auto dir = ebs::test::scratch_dir("crossmatch");
  std::ostringstream text;
  text.precision(17);
  for (const auto& p : positions) text << p.ra << " " << p.dec << "\n";
  ebs::test::write_text(dir / "positions.txt", text.str());
  auto rows = ebs::test::parse_rows(
      ebs::test::run_python_oracle(crossmatch_oracle, {oracle_input, (dir / "positions.txt").string()}));
  REQUIRE(rows.size() == positions.size() + 1);
  INFO("map " << map.source());
  CHECK(map.integral() == doctest::Approx(rows[0][0]).epsilon(1e-12));
  CHECK(map.credible_area(0.5) == doctest::Approx(rows[0][1]).epsilon(1e-9));
  CHECK(map.credible_area(0.9) == doctest::Approx(rows[0][2]).epsilon(1e-9));
  int mismatches = 0;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto& expected = rows[i + 1];
    SkymapLookup hit = map.at(positions[i].ra, positions[i].dec);
    bool same = hit.covered && std::abs(hit.probdensity - expected[0]) <= 1e-9 * expected[0] &&
                std::abs(hit.searched_prob - expected[1]) <= 1e-9 &&
                std::abs(hit.searched_area - expected[2]) <= 1e-9 * std::max(1.0, expected[2]);
    if (map.has_distance()) {
      REQUIRE(hit.distance);
      auto same_value = [](double a, double b) { return a == b || std::abs(a - b) <= 1e-12 * std::abs(b); };
      same = same && same_value(hit.distance->mu, expected[3]) && same_value(hit.distance->sigma, expected[4]) &&
             same_value(hit.distance->norm, expected[5]);
    }
    if (!same) {
      ++mismatches;
      MESSAGE("position " << positions[i].ra << " " << positions[i].dec << ": got " << hit.probdensity << " "
                          << hit.searched_prob << " " << hit.searched_area << ", oracle " << expected[0] << " "
                          << expected[1] << " " << expected[2]);
    }
  }
  CHECK(mismatches == 0);
  CHECK(positions.size() >= 300);
}

fs::path skymaps() { return ebs::test::data_dir() / "skymaps"; }
fs::path lvk_notices() { return ebs::test::data_dir() / "gcn" / "lvk-fink-mm"; }

}  // namespace

TEST_CASE("searched probability and area agree with the crossmatch oracle on multi-order maps") {
  for (const char* name : {"MS220722v_bayestar.multiorder.fits", "rrt_small_area.fits"}) {
    auto path = (skymaps() / name).string();
    Skymap map = Skymap::from_file(path);
    CHECK(map.ordering() == SkymapOrdering::nuniq);
    CHECK(map.integral() == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(map.sky_coverage() == doctest::Approx(1.0).epsilon(1e-12));
    check_against_oracle(map, path);
  }
}

TEST_CASE("searched probability and area agree with the oracle on the LVK notices' embedded maps") {
  for (const char* name : {"S230518h-initial.json", "S230518h-update.json", "MS230518e-mock-MDC.json"}) {
    auto path = (lvk_notices() / name).string();
    Skymap map = load_skymap(path);
    CHECK(map.integral() == doctest::Approx(1.0).epsilon(1e-6));
    check_against_oracle(map, path);
  }
  Skymap mdc = load_skymap((lvk_notices() / "MS230518e-mock-MDC.json").string());
  CHECK(mdc.max_order() == 11);
  CHECK(mdc.header().object == "M407349");
  CHECK(mdc.header().instruments == "H1,L1,V1");
  CHECK(mdc.header().creator == "BAYESTAR");
  CHECK(mdc.header().mocorder == 11);
  CHECK(*mdc.header().distmean == doctest::Approx(104.5438151239365));
  CHECK(*mdc.header().mjd_obs == doctest::Approx(60082.20672328121));
  CHECK(mdc.header().software_version == "ligo.skymap 1.0.7");
}

TEST_CASE("header keys and the distance ansatz of MS220722v, incl. DISTMU = +inf and DISTMU < 0") {
  Skymap map = Skymap::from_file((skymaps() / "MS220722v_bayestar.multiorder.fits").string());
  CHECK(map.rows() == 19200);
  CHECK(map.min_order() == 4);
  CHECK(map.max_order() == 9);
  CHECK(map.header().date_obs == "2022-07-22T21:57:12.384103");
  CHECK(*map.header().mjd_obs == doctest::Approx(59782.91472666786));
  CHECK(*map.header().distmean == doctest::Approx(125.9587664681809));
  CHECK(*map.header().diststd == doctest::Approx(43.93855161710408));

  int infinite = 0, negative = 0;
  for (const DistanceAnsatz& d : map.ranked_distance()) {
    if (std::isinf(d.mu)) {
      ++infinite;
      CHECK(d.norm == 0);
      for (double r : {1.0, 100.0, 1e4}) CHECK(d.pdf(r) == 0);
    } else if (d.mu < 0) {
      ++negative;
      for (double r : {1.0, 100.0, 1e3}) {
        CHECK(std::isfinite(d.pdf(r)));
        CHECK(d.pdf(r) >= 0);
      }
      CHECK(d.conditional_mean() > 0);
      CHECK(std::isfinite(d.conditional_std()));
    }
  }
  CHECK(infinite == 880);
  CHECK(negative == 757);

  // The conditional p(r) integrates to 1 along a line of sight (trapezoid on a fine grid).
  const DistanceAnsatz& best = map.ranked_distance()[0];
  double sum = 0, step = 0.05;
  for (double r = step; r < best.mu + 20 * best.sigma; r += step) sum += best.pdf(r) * step;
  CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
  // Mean of the ansatz by quadrature equals the closed form.
  double moment = 0;
  for (double r = step; r < best.mu + 20 * best.sigma; r += step) moment += r * best.pdf(r) * step;
  CHECK(best.conditional_mean() == doctest::Approx(moment).epsilon(1e-6));

  // Without DISTMEAN/DISTSTD in the header, the all-sky moments come from the ansatz
  // (parameters_to_marginal_moments); checked against brute-force quadrature in numpy. (BAYESTAR's
  // header values differ by ~0.3%: it computes them before writing the multi-order map.)
  Skymap headerless = Skymap::from_columns(
      "copy", SkymapOrdering::nuniq, {}, std::vector<std::uint64_t>(map.ranked_uniq().begin(), map.ranked_uniq().end()),
      std::vector<double>(map.ranked_probdensity().begin(), map.ranked_probdensity().end()),
      std::vector<DistanceAnsatz>(map.ranked_distance().begin(), map.ranked_distance().end()));
  auto moments = ebs::test::parse_rows(ebs::test::run_python_oracle(R"PY(
import sys
import numpy as np
from astropy.io import fits
t = fits.open(sys.argv[1])[1].data
u = np.asarray(t['UNIQ'], dtype=np.int64)
o = (np.floor(np.log2(u) / 2)).astype(np.int64) - 1
P = t['PROBDENSITY'] * np.ldexp(np.pi / 3, -2 * o)
mu, s = t['DISTMU'], t['DISTSIGMA']
good = np.flatnonzero(np.isfinite(mu) & np.isfinite(s))
r = np.linspace(0, 3000, 12001)[1:, None]
rbar = r2bar = 0.0
for k in np.array_split(good, 100):
    w = r ** 2 * np.exp(-0.5 * ((r - mu[k]) / s[k]) ** 2)
    m = (r * w).sum(0) / w.sum(0)
    m2 = (r * r * w).sum(0) / w.sum(0)
    rbar += (P[k] * m).sum()
    r2bar += (P[k] * m2).sum()
print(repr(rbar), repr(np.sqrt(r2bar - rbar ** 2)))
)PY",
                                                                    {(skymaps() / "MS220722v_bayestar.multiorder.fits").string()}));
  REQUIRE(moments.size() == 1);
  CHECK(*headerless.distance_mean() == doctest::Approx(moments[0][0]).epsilon(1e-5));
  CHECK(*headerless.distance_std() == doctest::Approx(moments[0][1]).epsilon(1e-5));
  CHECK(*headerless.distance_mean() == doctest::Approx(*map.header().distmean).epsilon(5e-3));

  // p(z) is p(r) carried through dD_L/dz: it integrates to ~1 too.
  FlatLambdaCDM cosmology = FlatLambdaCDM::named("flat-lcdm-h70-om0.3");
  double zsum = 0, zstep = 1e-4;
  for (double z = zstep; z < 0.2; z += zstep) zsum += best.pdf_redshift(z, cosmology) * zstep;
  CHECK(zsum == doctest::Approx(1.0).epsilon(1e-4));
}

TEST_CASE("credible regions: membership follows searched_prob, areas grow with the level") {
  Skymap map = Skymap::from_file((skymaps() / "MS220722v_bayestar.multiorder.fits").string());
  double a50 = map.credible_area(0.5), a90 = map.credible_area(0.9);
  CHECK(a50 > 0);
  CHECK(a90 > a50);
  CHECK(map.credible_area(1.0) <= 41252.97);
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 200; ++i) {
    double ra = 360 * unit(random), dec = std::asin(2 * unit(random) - 1) * 180 / M_PI;
    auto hit = map.at(ra, dec);
    CHECK(map.in_credible_region(ra, dec, 0.9) == (hit.searched_prob <= 0.9));
    CHECK(hit.searched_area <= 41252.97);
  }
}

TEST_CASE("flat RING and NESTED maps give the same answers, and the oracle's") {
  // A Fisher blob with a constant floor (many exact ties), distance columns with +inf/0 rows,
  // written by healpy in both orderings.
  const char* writer = R"PY(
import sys
import numpy as np
import healpy as hp
nside = 16
npix = hp.nside2npix(nside)
theta, phi = hp.pix2ang(nside, np.arange(npix), nest=True)
centre = hp.ang2vec(np.deg2rad(90 - 20.0), np.deg2rad(350.0))
cosd = np.dot(hp.ang2vec(theta, phi), centre)
prob = np.maximum(np.exp(30 * (cosd - 1)), 1e-4)
prob /= prob.sum()
mu = 100 + 50 * cosd
mu[cosd < -0.8] = np.inf
sigma = 20 + 0 * cosd
norm = np.where(np.isinf(mu), 0.0, 1e-4)
cols = ['PROB', 'DISTMU', 'DISTSIGMA', 'DISTNORM']
maps = [prob, mu, sigma, norm]
hp.write_map(sys.argv[1], maps, nest=True, column_names=cols, overwrite=True, dtype=np.float64)
hp.write_map(sys.argv[2], [hp.reorder(m, n2r=True) for m in maps], nest=False, column_names=cols, overwrite=True, dtype=np.float64)
)PY";
  auto dir = ebs::test::scratch_dir("flat");
  auto nested_path = (dir / "flat-nested.fits").string(), ring_path = (dir / "flat-ring.fits").string();
  ebs::test::run_python_oracle(writer, {nested_path, ring_path});
  Skymap nested = Skymap::from_file(nested_path);
  Skymap ring = Skymap::from_file(ring_path);
  CHECK(nested.ordering() == SkymapOrdering::nested);
  CHECK(ring.ordering() == SkymapOrdering::ring);
  CHECK(nested.rows() == 3072);
  CHECK(nested.min_order() == 4);
  CHECK(nested.max_order() == 4);
  CHECK(nested.integral() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(ring.integral() == doctest::Approx(1.0).epsilon(1e-6));
  std::mt19937_64 random(3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 500; ++i) {
    double ra = 360 * unit(random), dec = std::asin(2 * unit(random) - 1) * 180 / M_PI;
    auto a = nested.at(ra, dec), b = ring.at(ra, dec);
    CHECK(a.probdensity == b.probdensity);
    CHECK(a.searched_prob == b.searched_prob);
    CHECK(a.searched_area == b.searched_area);
    REQUIRE(a.distance);
    REQUIRE(b.distance);
    CHECK((a.distance->mu == b.distance->mu));
  }
  CHECK(overlap_integral(nested, ring) == doctest::Approx(overlap_integral(nested, nested)).epsilon(1e-12));
  check_against_oracle(nested, nested_path);
  check_against_oracle(ring, ring_path);
}

TEST_CASE("overlap integrals match a rasterizing oracle") {
  const char* oracle = R"PY(
import sys, io, json, base64
import numpy as np
from astropy.io import fits
def raster(path, order):
    if path.endswith('.json'):
        hdul = fits.open(io.BytesIO(base64.b64decode(json.load(open(path))['event']['skymap'])))
    else:
        hdul = fits.open(path)
    t = hdul[1].data
    uniq = np.asarray(t['UNIQ'], dtype=np.int64); rho = np.asarray(t['PROBDENSITY'], dtype=np.float64)
    o = (np.floor(np.log2(uniq) / 2)).astype(np.int64) - 1
    start = (uniq - 4 ** (o + 1)) << (2 * (order - o))
    k = np.argsort(start)
    m = np.repeat(rho[k], 4 ** (order - o[k]))
    assert m.size == 12 * 4 ** order
    norm = np.sum(rho * np.ldexp(np.pi / 3, -2 * o))
    return m, norm
a, na = raster(sys.argv[1], 9)
b, nb = raster(sys.argv[2], 9)
dA = np.ldexp(np.pi / 3, -18)
print(repr(4 * np.pi * np.sum(a * b) * dA / (na * nb)), repr(4 * np.pi * np.sum(a * a) * dA / (na * na)))
)PY";
  auto first = (skymaps() / "MS220722v_bayestar.multiorder.fits").string();
  auto second = (lvk_notices() / "S230518h-initial.json").string();
  auto rows = ebs::test::parse_rows(ebs::test::run_python_oracle(oracle, {first, second}));
  REQUIRE(rows.size() == 1);
  Skymap a = Skymap::from_file(first), b = load_skymap(second);
  CHECK(overlap_integral(a, b) == doctest::Approx(rows[0][0]).epsilon(1e-9));
  CHECK(overlap_integral(b, a) == doctest::Approx(rows[0][0]).epsilon(1e-9));
  CHECK(overlap_integral(a, a) == doctest::Approx(rows[0][1]).epsilon(1e-9));
  // A map and a point: 4π ρ(point) / N; a flat uniform sky gives 1.
  auto hit = a.at(200.0, -30.0);
  CHECK(overlap_integral(a, 200.0, -30.0) == doctest::Approx(4 * M_PI * hit.probdensity / a.integral()));
  std::vector<std::uint64_t> uniq(12);
  for (std::uint64_t i = 0; i < 12; ++i) uniq[i] = 4 + i;
  Skymap uniform = Skymap::from_columns("uniform", SkymapOrdering::nuniq, {}, uniq,
                                        std::vector<double>(12, 1 / (4 * M_PI)), {});
  CHECK(overlap_integral(uniform, 10.0, 10.0) == doctest::Approx(1.0));
  CHECK(overlap_integral(a, uniform) == doctest::Approx(1.0));
}

TEST_CASE("partial maps: uncovered positions have zero density and are outside every region") {
  // Two order-1 pixels only.
  Skymap partial = Skymap::from_columns("partial", SkymapOrdering::nuniq, {}, {16, 17},
                                        {9 / M_PI, 3 / M_PI}, {});
  CHECK(partial.integral() == doctest::Approx(1.0));
  CHECK(partial.sky_coverage() == doctest::Approx(2.0 / 48));
  int uncovered = 0;
  for (double ra = 0; ra < 360; ra += 7)
    for (double dec = -80; dec <= 80; dec += 20) {
      auto hit = partial.at(ra, dec);
      if (!hit.covered) {
        ++uncovered;
        CHECK(hit.probdensity == 0);
        CHECK_FALSE(hit.in_credible_region(0.99));
      }
      auto scan = partial.at_by_linear_scan(ra, dec);
      CHECK(scan.covered == hit.covered);
      CHECK(scan.searched_prob == hit.searched_prob);
    }
  CHECK(uncovered > 0);
}

TEST_CASE("the linear scan and the indexed lookup agree") {
  Skymap map = load_skymap((lvk_notices() / "MS230518e-mock-MDC.json").string());
  std::mt19937_64 random(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 100; ++i) {
    double ra = 360 * unit(random), dec = std::asin(2 * unit(random) - 1) * 180 / M_PI;
    auto fast = map.at(ra, dec), slow = map.at_by_linear_scan(ra, dec);
    CHECK(fast.searched_prob == slow.searched_prob);
    CHECK(fast.probdensity == slow.probdensity);
  }
}

TEST_CASE("a table declaring 2^63-1 rows is a Fault before any allocation") {
  auto bytes = read_file_bytes((ebs::test::data_dir() / "skymaps/MS220722v_bayestar.multiorder.fits").string());
  std::string fits(bytes.begin(), bytes.end());
  size_t card = fits.find("NAXIS2  =", fits.find("XTENSION= 'BINTABLE'"));
  REQUIRE(card != std::string::npos);
  std::string poisoned = "NAXIS2  =  9223372036854775807";
  poisoned.resize(80, ' ');
  fits.replace(card, 80, poisoned);
  CHECK_THROWS_AS(Skymap::from_bytes(std::string_view(fits), "poisoned.fits"), ebs::Fault);
}

TEST_CASE("an all-zero map is refused") {
  CHECK_THROWS_WITH_AS(Skymap::from_columns("zero", SkymapOrdering::nuniq, {}, {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
                                            std::vector<double>(12, 0.0), {}),
                       doctest::Contains("probability is zero everywhere"), ebs::Fault);
}

TEST_CASE("invalid positions are faults") {
  Skymap map = Skymap::from_file((skymaps() / "rrt_small_area.fits").string());
  CHECK_THROWS_AS(map.at(10, 91), ebs::Fault);
  CHECK_THROWS_AS(map.at(std::nan(""), 0), ebs::Fault);
  CHECK_THROWS_AS(map.at(10, -INFINITY), ebs::Fault);
  CHECK_NOTHROW(map.at(-10, 0));  // any RA
  CHECK(map.at(-10, 5).searched_prob == map.at(350, 5).searched_prob);
}
