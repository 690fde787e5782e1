#include "actors/followup/gadf_export.h"

#include <doctest/doctest.h>

#include <cmath>

#include "test/support/skymap_oracle.h"
#include "test/support/multiorder_oracle.h"
#include "engine/model/record.h"
#include "engine/model/record_json.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::followup;
namespace fs = std::filesystem;

namespace {

fs::path map_path() { return ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits"; }

// Gammapy reads the light curve back; prints per time bin and band
// "time_min time_max e_min e_max e2dnde e2dnde_err e2dnde_ul is_ul" (NaN as nan).
const char* light_curve_reader = R"PY(
import sys, warnings, logging
warnings.simplefilter('ignore')
logging.disable(logging.WARNING)  # Gammapy logs that it assumes an E^-2 reference spectrum
import numpy as np
from gammapy.estimators import FluxPoints
fp = FluxPoints.read(sys.argv[1], format='lightcurve')
assert fp.sed_type_init == 'e2dnde', fp.sed_type_init
time = fp.geom.axes['time']
energy = fp.geom.axes['energy']
e2dnde = fp.e2dnde.quantity.to_value('erg cm-2 s-1')
err = fp.e2dnde_err.quantity.to_value('erg cm-2 s-1')
ul = fp.e2dnde_ul.quantity.to_value('erg cm-2 s-1')
is_ul = fp.is_ul.data
edges = energy.edges.to_value('eV')
for t in range(time.nbin):
    for e in range(energy.nbin):
        print(repr(time.time_min[t].mjd), repr(time.time_max[t].mjd), repr(edges[e]), repr(edges[e + 1]),
              repr(float(e2dnde[t, e, 0, 0])), repr(float(err[t, e, 0, 0])), repr(float(ul[t, e, 0, 0])),
              int(is_ul[t, e, 0, 0]))
print('n_sigma_ul', fp.n_sigma_ul)
)PY";

void check_equal(double actual, double expected, double relative) {
  if (std::isnan(expected)) {
    CHECK(std::isnan(actual));
    return;
  }
  CHECK(actual == doctest::Approx(expected).epsilon(relative));
}

}  // namespace

TEST_CASE("GADF light curve of real ATLAS photometry (SkyPortal CSV, upper limits): Gammapy reads back equal values") {
  const auto points = load_photometry_csv(ebs::test::data_dir() / "atlas" / "forced-phot-ZTFrlh6cyjh-skyportal.csv");
  REQUIRE(points.size() == 384);
  std::size_t limits = 0;
  for (const auto& p : points) limits += p.upper_limit();
  CHECK(limits == 149);
  const LightCurveTable table = make_light_curve(points);
  REQUIRE(table.bands == std::vector<std::string>{"atlaso", "atlasc"});  // ascending energy
  CHECK(table.e_max[0] == table.e_min[1]);
  const fs::path out = ebs::test::scratch_dir("followup-gadf") / "lightcurve.fits";
  write_light_curve_fits(table, out);

  const std::string text = ebs::test::run_python_oracle(light_curve_reader, {out.string()});
  const auto sigma_at = text.find("n_sigma_ul");
  REQUIRE(sigma_at != std::string::npos);
  CHECK(std::stod(text.substr(sigma_at + 10)) == doctest::Approx(5.0));
  const auto rows = ebs::test::parse_rows(text.substr(0, sigma_at));
  REQUIRE(rows.size() == table.time_min.size() * 2);
  std::size_t detections = 0, upper_limits = 0;
  for (std::size_t t = 0; t < table.time_min.size(); ++t)
    for (std::size_t e = 0; e < 2; ++e) {
      const auto& row = rows[t * 2 + e];
      CHECK(row[0] == doctest::Approx(table.time_min[t]).epsilon(1e-13));
      CHECK(row[1] == doctest::Approx(table.time_max[t]).epsilon(1e-13));
      CHECK(row[2] == doctest::Approx(table.e_min[e]).epsilon(1e-12));
      CHECK(row[3] == doctest::Approx(table.e_max[e]).epsilon(1e-12));
      check_equal(row[4], table.e2dnde[t][e], 1e-12);
      check_equal(row[5], table.e2dnde_err[t][e], 1e-12);
      check_equal(row[6], table.e2dnde_ul[t][e], 1e-12);
      CHECK((row[7] == 1) == table.is_ul[t][e]);
      detections += std::isfinite(table.e2dnde[t][e]);
      upper_limits += table.is_ul[t][e];
    }
  CHECK(detections == 384 - 149);
  CHECK(upper_limits == 149);
}

TEST_CASE("AB magnitudes to e2dnde: 0 mag AB is 3631 Jy") {
  // ν F_ν at 1 eV (ν = 2.418e14 Hz) of 3631 Jy = 3.631e-20 erg s^-1 cm^-2 Hz^-1.
  const double nu = 1.0 / 4.135667696e-15;
  CHECK(ab_magnitude_to_e2dnde(0, 1.0) == doctest::Approx(3630.78e-23 * nu).epsilon(1e-4));
  CHECK(ab_magnitude_to_e2dnde(5, 1.0) == doctest::Approx(ab_magnitude_to_e2dnde(0, 1.0) / 100).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(band_by_name("johnsonv", "row 3"), doctest::Contains("unknown band 'johnsonv'"), ebs::Fault);
}

TEST_CASE("GADF HPX map of MS220722v: Gammapy's Map.read gives the flattened densities") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const fs::path out = ebs::test::scratch_dir("followup-gadf") / "MS220722v-hpx7.fits";
  write_hpx_map(map, out, 7);
  // Gammapy reads the file; numpy flattens the multi-order map to order 7 on its own (finer cells
  // averaged into their order-7 pixel) and compares every pixel.
  const auto rows = ebs::test::parse_rows(ebs::test::run_python_oracle(ebs::test::multiorder_prelude + R"PY(
import sys, warnings, logging
warnings.simplefilter('ignore')
logging.disable(logging.WARNING)  # Gammapy logs that it assumes an E^-2 reference spectrum
from gammapy.maps import Map
m = Map.read(sys.argv[2])
assert m.geom.nside[0] == 128 and m.geom.nest and m.geom.frame == 'icrs', (m.geom.nside, m.geom.nest, m.geom.frame)
assert str(m.unit) == '1 / sr', m.unit
t, uniq, order, ipix = read_multiorder(sys.argv[1])
rho = np.asarray(t['PROBDENSITY'], dtype=np.float64)
K = 7
flat = np.zeros(12 * 4 ** K)
coarse = order <= K
for i, o, r in zip(ipix[coarse], order[coarse], rho[coarse]):
    flat[i << (2 * (K - o)):(i + 1) << (2 * (K - o))] = r
fine = ~coarse
np.add.at(flat, ipix[fine] >> (2 * (order[fine] - K)), rho[fine] * 4.0 ** (K - order[fine]))
data = np.asarray(m.data, dtype=np.float64)
rel = np.max(np.abs(data - flat) / np.maximum(np.abs(flat), 1e-300))
area = 4 * np.pi / flat.size
print(rel, np.sum(data) * area, np.sum(flat) * area, data.size)
)PY", {map_path().string(), out.string()}));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0] < 1e-12);
  CHECK(rows[0][1] == doctest::Approx(map.integral()).epsilon(1e-9));
  CHECK(rows[0][3] == 12 * 128 * 128);
}

TEST_CASE("GADF HPX map with distance layers of a synthetic multi-order map: Gammapy reads every layer") {
  // numpy writes a small multi-order map with distance layers (orders 1-3); ebs-flow exports it at
  // order 3; Gammapy reads SKYMAP, DISTMU, DISTSIGMA, DISTNORM and numpy compares them.
  const fs::path dir = ebs::test::scratch_dir("followup-gadf");
  const fs::path source = dir / "synthetic-moc.fits";
  ebs::test::run_python_oracle(R"PY(
import sys
import numpy as np
from astropy.table import Table
rng = np.random.default_rng(3)
uniq = [4 * 4 ** 1 + i for i in range(0, 44)]                  # order 1: pixels 0..43
uniq += [4 * 4 ** 2 + i for i in range(44 * 4, 46 * 4)]         # order 2: pixels of 44, 45
uniq += [4 * 4 ** 3 + i for i in range(46 * 16, 48 * 16)]       # order 3: pixels of 46, 47
uniq = np.array(uniq, dtype=np.int64)
rho = rng.uniform(0.01, 1, len(uniq))
order = (np.floor(np.log2(uniq)).astype(np.int64) // 2) - 1
rho /= np.sum(rho * np.ldexp(np.pi / 3, -2 * order))
t = Table({'UNIQ': uniq, 'PROBDENSITY': rho, 'DISTMU': rng.uniform(50, 300, len(uniq)),
           'DISTSIGMA': rng.uniform(10, 80, len(uniq)), 'DISTNORM': rng.uniform(1e-5, 1e-4, len(uniq))})
t.meta['ORDERING'] = 'NUNIQ'
t.write(sys.argv[1], overwrite=True)
)PY", {source.string()});
  const auto map = ebs::skymap::Skymap::from_file(source.string());
  REQUIRE(map.max_order() == 3);
  const fs::path out = dir / "synthetic-hpx.fits";
  write_hpx_map(map, out);
  const auto rows = ebs::test::parse_rows(ebs::test::run_python_oracle(ebs::test::multiorder_prelude + R"PY(
import sys, warnings, logging
warnings.simplefilter('ignore')
logging.disable(logging.WARNING)  # Gammapy logs that it assumes an E^-2 reference spectrum
from gammapy.maps import Map
t, uniq, order, ipix = read_multiorder(sys.argv[1])
K = 3
worst = 0.0
for hdu, column in (('SKYMAP', 'PROBDENSITY'), ('DISTMU', 'DISTMU'), ('DISTSIGMA', 'DISTSIGMA'), ('DISTNORM', 'DISTNORM')):
    m = Map.read(sys.argv[2], hdu=hdu)
    flat = np.zeros(12 * 4 ** K)
    for i, o, v in zip(ipix, order, np.asarray(t[column], dtype=np.float64)):
        flat[i << (2 * (K - o)):(i + 1) << (2 * (K - o))] = v
    worst = max(worst, float(np.max(np.abs(np.asarray(m.data) - flat) / np.abs(flat))))
print(worst)
)PY", {source.string(), out.string()}));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0] < 1e-15);
}

TEST_CASE("light curve from alerts as JSON lines: one object's detections and limits, once per time and band") {
  auto alert = [](const std::string& object, double mjd, const std::string& band, double mag,
                  std::vector<ebs::Photometry> history) {
    auto core = std::make_shared<ebs::AlertCore>();
    core->object_id = object;
    core->survey = "ZTF";
    core->ra = 10;
    core->dec = 20;
    core->mjd_tai = mjd;
    core->band = band;
    core->mag = mag;
    core->mag_err = 0.1;
    core->history = std::move(history);
    return ebs::to_json(ebs::Alert(core)).dump();
  };
  ebs::Photometry limit;
  limit.mjd_tai = 60000.0;
  limit.band = "r";
  limit.kind = ebs::Photometry::Kind::upper_limit;
  limit.limit_mag = 20.5;
  ebs::Photometry earlier;
  earlier.mjd_tai = 60001.0;
  earlier.band = "g";
  earlier.mag = 19.0;
  earlier.mag_err = 0.05;
  const fs::path file = ebs::test::scratch_dir("followup-gadf") / "alerts.jsonl";
  ebs::test::write_text(file, alert("ZTF1", 60001.0, "g", 19.0, {limit}) + "\n" +
                                  alert("ZTF2", 60001.5, "g", 15.0, {}) + "\n" +
                                  alert("ZTF1", 60002.0, "r", 18.5, {limit, earlier}) + "\n");
  const auto points = load_alert_photometry(file, "ZTF1");
  REQUIRE(points.size() == 3);  // the limit and the g detection are seen twice, kept once
  CHECK(points[0].band == "ztfr");
  CHECK(points[0].upper_limit());
  CHECK(points[0].limit_mag == 20.5);
  CHECK(points[0].mjd_utc == doctest::Approx(60000.0 - 37.0 / 86400).epsilon(1e-12));  // TAI - 37 s
  CHECK(points[1].band == "ztfg");
  CHECK(points[2].mag == 18.5);
  const LightCurveTable table = make_light_curve(points);
  CHECK(table.bands == std::vector<std::string>{"ztfr", "ztfg"});
  CHECK(table.time_min.size() == 3);
  CHECK_THROWS_WITH_AS(load_alert_photometry(file, "ZTF9"), doctest::Contains("no photometry of object 'ZTF9'"), ebs::Fault);
}
