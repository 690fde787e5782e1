#include "actors/common/catalog/catalog_builder.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

#include "actors/common/catalog/catalog.h"
#include "test/support/python_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::catalog;

namespace {

VariableLookup test_data_variables() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (name == "EBS_DATA") return ebs::test::data_dir().string();
    return std::nullopt;
  };
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("ebs_builder_" + std::to_string(::getpid()) + "_" + name);
}

struct TempFiles {
  std::vector<std::filesystem::path> paths;
  std::filesystem::path add(const std::string& name, const std::string& content = "") {
    paths.push_back(temp_path(name));
    if (!content.empty()) std::ofstream(paths.back(), std::ios::binary) << content;
    return paths.back();
  }
  ~TempFiles() {
    for (const auto& p : paths) std::filesystem::remove(p);
  }
};

// The row whose id is `id` (linear scan: these catalogues are small).
CatalogRow find_row(const Catalog& catalog, const std::string& id) {
  for (uint32_t i = 0; i < catalog.size(); ++i) {
    CatalogRow row = catalog.row(i);
    if (row.id == id) return row;
  }
  FAIL("no source with id " << id);
  return {};
}

CatalogConfig csv_config(const std::filesystem::path& data, const std::string& extra_yaml = "") {
  return parse_catalog_config("name: bad\nfile: " + data.string() +
                                  "\nformat: csv\ncolumns: {ra: ra, dec: dec, id: id}\n" + extra_yaml,
                              "/tmp/bad.yaml");
}

}  // namespace

TEST_CASE("choose_index_order keeps about one source per pixel") {
  CHECK(choose_index_order(0) == 0);
  CHECK(choose_index_order(1000) == 3);
  CHECK(choose_index_order(59099) == 6);
  CHECK(choose_index_order(10'000'000) == 10);
  CHECK(choose_index_order(size_t{1} << 40) == 13);
}

TEST_CASE("every ready-made catalogue configuration builds from the shared data") {
  const std::map<std::string, size_t> expected_rows = {
      {"gcvs", 59099},        {"gaia-dr3-1000", 1000},           {"milliquas-sample", 1000},
      {"veron-agn-sample", 50}, {"4lac-dr3-h", 3407},             {"3hsp", 2013},
      {"glade-gwemopt-S190814bv", 2000}, {"gladeplus-first101", 101}, {"clu-mini", 92}, {"tns", 3}};
  TempFiles temp;
  std::map<std::string, std::filesystem::path> built;
  for (const auto& entry : std::filesystem::directory_iterator(ebs::test::source_dir() / "catalogs")) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path());
    const CatalogConfig config = load_catalog_config(entry.path(), test_data_variables());
    const auto out = temp.add(config.name + ".ebscat");
    const BuildReport report = build_catalog(config, out);
    REQUIRE(expected_rows.count(config.name));
    CHECK(report.rows == static_cast<int64_t>(expected_rows.at(config.name)));
    CHECK(report.skipped == 0);
    CHECK(report.content_hash.size() == 7 + 64);
    const Catalog catalog(out);
    CHECK(catalog.size() == expected_rows.at(config.name));
    CHECK(catalog.info().name == config.name);
    CHECK(catalog.info().content_hash == report.content_hash);
    built[config.name] = out;
  }
  REQUIRE(built.size() == expected_rows.size());

  SUBCASE("content hashes are SHA-256 of the data files") {
    const std::string python = ebs::test::run_python_oracle(
        "import hashlib\nprint(hashlib.sha256(open('" + (ebs::test::data_dir() / "catalogs" / "gcvs.csv").string() +
        "','rb').read()).hexdigest())\n");
    CHECK(Catalog(built["gcvs"]).info().content_hash == "sha256:" + python.substr(0, 64));
  }
  SUBCASE("GCVS types are trimmed") {
    const Catalog gcvs(built["gcvs"]);
    const auto match = gcvs.nearest(10.679583333333332, 41.268055555555556, 0.01);
    REQUIRE(match);
    CHECK(gcvs.row(match->index).type == "SNI");
    CHECK(match->sep_arcsec < 1e-9);
  }
  SUBCASE("3HSP sexagesimal positions") {
    const CatalogRow row = find_row(Catalog(built["3hsp"]), "3HSPJ000132.7-415525");
    CHECK(row.ra_deg == doctest::Approx((0 + 1 / 60.0 + 32.74 / 3600) * 15).epsilon(1e-14));
    CHECK(row.dec_deg == doctest::Approx(-(41 + 55 / 60.0 + 24.99 / 3600)).epsilon(1e-14));
    CHECK(row.type == "HSP");
    CHECK(row.extra["FOM"] == 0.79);
    CHECK(row.extra["γ-ray counterpart"] == "4FGL J0001.6-4156");
  }
  SUBCASE("GLADE byte-string names are stripped, '---' is null") {
    const CatalogRow row = find_row(Catalog(built["glade-gwemopt-S190814bv"]), "ESO474-026");
    CHECK(row.extra["GWGC"].is_null());
    CHECK(row.extra["2MASS"] == "00470752-2422143");
    CHECK(*row.distance_mpc == doctest::Approx(244.250311897));
    CHECK(*row.redshift == doctest::Approx(0.026322));
    CHECK(*row.magnitude == doctest::Approx(14.962));
  }
  SUBCASE("GLADE+ native columns: distance, redshift, type flag, nulls") {
    const CatalogRow row = find_row(Catalog(built["gladeplus-first101"]), "NGC4736");
    CHECK(row.ra_deg == 192.721451);
    CHECK(*row.distance_mpc == doctest::Approx(4.392418));
    CHECK(*row.redshift == doctest::Approx(0.000990570495285));
    CHECK(row.type == "G");
    CHECK(row.extra["M_star"].is_null());
    CHECK(row.extra["GLADE_no"] == 1);
  }
  SUBCASE("CLU sizes: diameter in degrees becomes a semi-major axis in arcsec; sparse") {
    const Catalog clu(built["clu-mini"]);
    const CatalogRow ngc253 = find_row(clu, "NGC 0253");
    CHECK(*ngc253.semi_major_arcsec == doctest::Approx(0.999372 * 3600 / 2));
    CHECK(*ngc253.axis_ratio == 0.25);
    CHECK(*ngc253.position_angle_deg == 52.0);
    CHECK_FALSE(find_row(clu, "GALEXASC J013719.93-331951.1").semi_major_arcsec);
  }
  SUBCASE("Gaia: 64-bit ids, proper motions and the epoch") {
    const Catalog gaia(built["gaia-dr3-1000"]);
    CHECK(gaia.info().epoch_mjd == 57388.5);
    CHECK(gaia.info().max_proper_motion_mas_per_yr > 10);
    const CatalogRow row = find_row(gaia, "4267180339403392768");
    CHECK(*row.pmra_mas_per_yr == 2.5490278100064536);
    CHECK(*row.magnitude == doctest::Approx(15.244129));
    CHECK(row.extra["designation"] == "Gaia DR3 4267180339403392768");
    CHECK(gaia.index_bytes_per_source() < 40 + 12 * 4.0 * 4 / 1000);  // tiny catalogue: offsets dominate
  }
  SUBCASE("Milliquas fixed-width and Veron VizieR tables") {
    const CatalogRow quasar = find_row(Catalog(built["milliquas-sample"]), "UVQSJ000000.15-200427.7");
    CHECK(quasar.ra_deg == 0.000625);
    CHECK(quasar.dec_deg == -20.0743611);
    CHECK(quasar.type == "QX");
    CHECK(*quasar.redshift == 0.291);
    CHECK(*quasar.magnitude == 17.8);
    CHECK(quasar.extra["xray_name"] == "1SXPS J000000.0-200425");
    const CatalogRow agn = find_row(Catalog(built["veron-agn-sample"]), "XMM J00000-2511");
    CHECK(agn.dec_deg == -25.1936);
    CHECK(agn.type == "Q");
    CHECK(agn.extra["Sp"] == "S1");
  }
  SUBCASE("4LAC: FITS strings, -inf redshift is absent") {
    const Catalog lac(built["4lac-dr3-h"]);
    const CatalogRow row = find_row(lac, "4FGL J0001.2+4741");
    CHECK(row.type == "bcu");
    CHECK_FALSE(row.redshift);
    CHECK(row.extra["ASSOC1"] == "B3 2358+474");
  }
}

TEST_CASE("bad rows: a fault names file, row and column; --skip-bad-rows builds the rest") {
  TempFiles temp;
  const auto data = temp.add("bad.csv",
                             "id,ra,dec\n"
                             "good1,10.5,20.5\n"
                             "polar,10.5,95.2\n"
                             "wrapped,360.0,1\n"
                             "nan,nan,1\n"
                             "text,abc,1\n"
                             "short,1\n"
                             "empty,,5\n"
                             "good2,359.999,-90\n");
  const auto out = temp.add("bad.ebscat");
  const CatalogConfig config = csv_config(data);
  try {
    build_catalog(config, out);
    FAIL("expected a fault");
  } catch (const ebs::Fault& fault) {
    CHECK(std::string(fault.what()) == data.string() + ":row 2 (line 3):column dec: Dec 95.2 deg is outside [-90, 90]");
  }
  CHECK_FALSE(std::filesystem::exists(out));

  BuildOptions options;
  options.skip_bad_rows = true;
  options.reasons_kept = 3;
  const BuildReport report = build_catalog(config, out, options);
  CHECK(report.rows == 2);
  CHECK(report.skipped == 6);
  REQUIRE(report.skip_reasons.size() == 3);
  CHECK(report.skip_reasons[1] == data.string() + ":row 3 (line 4):column ra: RA 360 deg is outside [0, 360)");
  CHECK(report.skip_reasons[2].find(":row 4 (line 5):column ra: ra is not a finite number") != std::string::npos);
  const Catalog catalog(out);
  CHECK(catalog.size() == 2);
  CHECK(catalog.info().skipped_rows == 6);
}

TEST_CASE("rows with a negative distance or size, an axis ratio above 1 or an angle off the circle are refused with their place") {
  TempFiles temp;
  const auto data = temp.add("shapes.csv",
                             "id,ra,dec,d,a,q,pa\n"
                             "good,10,20,40,1,0.5,30\n"
                             "near,10,20,-3,1,0.5,30\n"
                             "small,10,20,40,-1,0.5,30\n"
                             "long,10,20,40,1,2,30\n"
                             "turned,10,20,40,1,0.5,400\n"
                             "back,10,20,40,1,0.5,-10\n");
  const auto out = temp.add("shapes.ebscat");
  const CatalogConfig config = parse_catalog_config(
      "name: shapes\nfile: " + data.string() +
          "\nformat: csv\ncolumns: {ra: ra, dec: dec, id: id, distance: {column: d, unit: Mpc}, "
          "major_axis: {column: a, unit: arcsec, kind: semi}, axis_ratio: q, position_angle: {column: pa, unit: deg}}\n",
      "/tmp/shapes.yaml");
  BuildOptions options;
  options.skip_bad_rows = true;
  options.reasons_kept = 10;
  const BuildReport report = build_catalog(config, out, options);
  CHECK(report.rows == 1);
  REQUIRE(report.skip_reasons.size() == 5);
  CHECK(report.skip_reasons[0] == data.string() + ":row 2 (line 3):column d: distance -3 Mpc is negative");
  CHECK(report.skip_reasons[1] == data.string() + ":row 3 (line 4):column a: size -1 arcsec is negative");
  CHECK(report.skip_reasons[2] == data.string() + ":row 4 (line 5):column q: axis ratio 2 is outside [0, 1]");
  CHECK(report.skip_reasons[3] == data.string() + ":row 5 (line 6):column pa: position angle 400 deg is outside [0, 360)");
  CHECK(report.skip_reasons[4].find("position angle -10 deg") != std::string::npos);
}

TEST_CASE("bad input beyond rows: missing columns, sexagesimal without declaration, missing file") {
  TempFiles temp;
  const auto data = temp.add("cols.csv", "id,ra,declination\nx,1,2\n");
  CHECK_THROWS_WITH_AS(build_catalog(csv_config(data), temp.add("c.ebscat")),
                       doctest::Contains((data.string() + ":column dec: no such column (mapped to dec").c_str()), ebs::Fault);
  // A missing column is not a bad row: --skip-bad-rows does not hide it.
  BuildOptions skip;
  skip.skip_bad_rows = true;
  CHECK_THROWS_AS(build_catalog(csv_config(data), temp.add("c2.ebscat"), skip), ebs::Fault);

  const auto sexagesimal = temp.add("sex.csv", "id,ra,dec\nx,10:20:30,+5:00:00\n");
  CHECK_THROWS_WITH_AS(build_catalog(csv_config(sexagesimal), temp.add("s.ebscat")),
                       doctest::Contains(":row 1 (line 2):column ra: ra '10:20:30' is not a number (declare format: sexagesimal)"),
                       ebs::Fault);
  const auto declared = parse_catalog_config(
      "name: s\nfile: " + sexagesimal.string() +
          "\nformat: csv\ncolumns: {ra: {column: ra, format: sexagesimal}, dec: {column: dec, format: sexagesimal}}\n",
      "/tmp/s.yaml");
  const auto out = temp.add("s2.ebscat");
  build_catalog(declared, out);
  const CatalogRow row = Catalog(out).row(0);
  CHECK(row.ra_deg == doctest::Approx((10 + 20 / 60.0 + 30 / 3600.0) * 15).epsilon(1e-15));
  CHECK(row.dec_deg == 5.0);

  CatalogConfig missing = csv_config("/nonexistent/data.csv");
  CHECK_THROWS_WITH_AS(build_catalog(missing, temp.add("m.ebscat")),
                       doctest::Contains("/nonexistent/data.csv: catalogue data file not found"), ebs::Fault);
}

TEST_CASE("CatalogWriter sorts by HEALPix pixel and keeps extra columns") {
  TempFiles temp;
  CatalogDescription description;
  description.name = "synthetic";
  description.extra_columns = {"note", "count"};
  CatalogWriter writer(description);
  for (int i = 0; i < 100; ++i) {
    SourceFields s;
    s.ra_deg = (i * 37) % 360 + 0.5;
    s.dec_deg = (i * 13) % 170 - 85;
    const std::string id = "s" + std::to_string(i);
    s.id = id;
    const std::string note_text = "n" + std::to_string(i % 3);
    Cell note, count;
    note.kind = Cell::Kind::text;
    note.text = note_text;
    count.kind = Cell::Kind::integer;
    count.integer = i;
    writer.add(s, {note, count});
  }
  const auto out = temp.add("w.ebscat");
  writer.write(out);
  const Catalog catalog(out);
  REQUIRE(catalog.size() == 100);
  std::set<std::string> ids;
  for (uint32_t i = 0; i < 100; ++i) {
    const CatalogRow row = catalog.row(i);
    const int original = std::stoi(row.id->substr(1));
    CHECK(row.extra["count"] == original);
    CHECK(row.extra["note"] == "n" + std::to_string(original % 3));
    ids.insert(*row.id);
  }
  CHECK(ids.size() == 100);
  CHECK_THROWS_WITH_AS(catalog.row(100), doctest::Contains(":row 100: no such source"), ebs::Fault);
}
