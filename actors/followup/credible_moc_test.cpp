#include "actors/followup/moc_fits.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "test/support/skymap_oracle.h"
#include "actors/followup/followup_command.h"
#include "test/support/multiorder_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::followup;
using namespace ebs::skymap;
namespace fs = std::filesystem;

namespace {

constexpr double square_degrees_per_steradian = (180.0 / M_PI) * (180.0 / M_PI);

fs::path map_path() { return ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits"; }

// Opens the MOC FITS with astropy, checks the MOC 2.0 keywords, the ascending and normalised NUNIQ
// list and the JSON twin, then evaluates the credible region on the map flattened with numpy to
// its maximum order: pixels ranked by density, ties by descending index (a flat map's order),
// in the region while the cumulative probability is <= level.
// Args: map moc.fits moc.json level. Prints "moc_pixels flat_pixels differing keywords_ok".
const std::string moc_oracle = ebs::test::multiorder_prelude + R"PY(
import sys, json
path, moc_path, json_path, level = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
t, uniq, order, ipix = read_multiorder(path)
rho = np.asarray(t['PROBDENSITY'], dtype=np.float64)
top = int(order.max())
reps = np.int64(1) << (2 * (top - order))
flat_pix = np.concatenate([np.arange(i << (2 * (top - o)), (i + 1) << (2 * (top - o)), dtype=np.int64) for i, o in zip(ipix, order)])
flat_rho = np.repeat(rho, reps)
rank = np.lexsort((-flat_pix, -flat_rho))
prob = flat_rho[rank] * np.ldexp(np.pi / 3, -2 * top)
inside = set(flat_pix[rank][np.cumsum(prob) <= level].tolist())

hdul = fits.open(moc_path)
h = hdul[1].header
ok = (h['MOCVERS'] == '2.0' and h['MOCDIM'] == 'SPACE' and h['ORDERING'] == 'NUNIQ' and h['COORDSYS'] == 'C'
      and h['MOCORD_S'] == top and h['PIXTYPE'] == 'HEALPIX' and h['MOCORDER'] == top and h['TTYPE1'] == 'UNIQ'
      and h['TFORM1'] == '1J' and hdul[1].columns.names == ['UNIQ'])
cells = np.asarray(hdul[1].data['UNIQ'], dtype=np.int64)
ok = ok and bool(np.all(np.diff(cells) > 0))
corder = (np.floor(np.log2(cells)).astype(np.int64) // 2) - 1
cpix = cells - (np.int64(4) << (2 * corder))
# Normalised: no four siblings of one parent in the list.
for o in range(1, top + 1):
    parents, counts = np.unique(cpix[corder == o] >> 2, return_counts=True)
    ok = ok and not np.any(counts == 4)
with open(json_path) as f:
    js = json.load(f)
from_json = sorted((np.int64(4) << (2 * int(o))) + p for o, ps in js.items() for p in ps)
ok = ok and from_json == sorted(cells.tolist()) and str(top) in js
moc_pixels = set()
for o, p in zip(corder, cpix):
    moc_pixels.update(range(int(p) << (2 * (top - o)), (int(p) + 1) << (2 * (top - o))))
ok = ok and len(moc_pixels) == int(np.sum(np.int64(1) << (2 * (top - corder))))  # no overlaps
print(len(moc_pixels), len(inside), len(moc_pixels ^ inside), int(ok))
)PY";

}  // namespace

TEST_CASE("credible-region MOCs of MS220722v: areas, NUNIQ cells against a flat numpy evaluation, FITS keywords") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const fs::path dir = ebs::test::scratch_dir("followup-moc");
  std::ostringstream out;
  write_credible_mocs(map, {0.5, 0.9}, -1, dir / "MS220722v", out);
  const double pixel_deg2 = ebs::skymap::pixel_area(map.max_order()) * square_degrees_per_steradian;
  std::istringstream lines(out.str());
  int seen = 0;
  for (std::string line; std::getline(lines, line); ++seen) {
    const auto json = nlohmann::json::parse(line);
    const double level = json["level"];
    INFO("level " << level);
    const double area = json["area_deg2"], searched = json["searched_area_deg2"];
    CHECK(searched == doctest::Approx(map.credible_area(level)).epsilon(1e-15));
    CHECK(area <= searched + 1e-9);
    CHECK(searched - area < pixel_deg2);
    CHECK(json["max_order"] == map.max_order());
    const auto rows = ebs::test::parse_rows(ebs::test::run_python_oracle(
        moc_oracle, {map_path().string(), json["fits"].get<std::string>(), json["json"].get<std::string>(),
                     std::to_string(level)}));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][3] == 1);         // keywords, ordering, normalisation, JSON twin
    CHECK(rows[0][0] > 1000);        // max-order pixels in the region
    CHECK(rows[0][2] <= 1);          // at most the one child where the level is crossed
    CHECK(std::abs(rows[0][0] * pixel_deg2 - area) < 1e-6 * area);
  }
  CHECK(seen == 2);
}

TEST_CASE("credible-region MOCs: a coarser order is a superset; cells are normalised and contain what they cover") {
  const auto map = ebs::skymap::Skymap::from_file(map_path().string());
  const Moc fine = credible_region_moc(map, 0.9);
  const Moc coarse = credible_region_moc(map, 0.9, 6);
  CHECK(coarse.max_order == 6);
  CHECK(coarse.area_deg2() >= fine.area_deg2());
  CHECK(coarse.uniq.size() < fine.uniq.size());
  CHECK(std::is_sorted(fine.uniq.begin(), fine.uniq.end()));
  for (std::uint64_t cell : fine.uniq) {
    const int order = ebs::skymap::uniq_order(cell);
    const std::uint64_t first_child = ebs::skymap::uniq_ipix(cell, order) << (2 * (map.max_order() - order));
    CHECK(fine.contains(map.max_order(), first_child));
    CHECK(coarse.contains(map.max_order(), first_child));
  }
  // Whole sky: the twelve base pixels.
  const Moc all = credible_region_moc(map, 1.0);
  CHECK(all.uniq.size() == 12);
  CHECK(all.area_deg2() == doctest::Approx(4 * 180.0 * 180.0 / M_PI).epsilon(1e-12));
  CHECK(moc_to_json(all).dump().find("\"0\":[0,1,2,3,4,5,6,7,8,9,10,11]") != std::string::npos);
  CHECK(moc_to_json(all).dump().find("\"9\":[]") != std::string::npos);
  CHECK_THROWS_WITH_AS(credible_region_moc(map, 1.5), doctest::Contains("not in (0, 1]"), ebs::Fault);
}

TEST_CASE("moc_from_ranges merges and decomposes into the fewest aligned cells") {
  // Order 1: pixels 4..7 are base pixel 1; 8 and 9 stay at order 1; 3 alone.
  const Moc moc = moc_from_ranges(1, {{4, 6}, {6, 8}, {8, 10}, {3, 4}, {5, 7}});
  std::vector<std::uint64_t> expected = {ebs::skymap::nest_to_uniq(0, 1), ebs::skymap::nest_to_uniq(1, 3),
                                         ebs::skymap::nest_to_uniq(1, 8), ebs::skymap::nest_to_uniq(1, 9)};
  std::sort(expected.begin(), expected.end());
  CHECK(moc.uniq == expected);
}
