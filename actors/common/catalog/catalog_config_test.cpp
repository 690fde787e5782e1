#include "actors/common/catalog/catalog_config.h"

#include <doctest/doctest.h>

#include <map>

#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::catalog;

namespace {

VariableLookup variables(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

std::string fault_text(const std::string& yaml) {
  try {
    parse_catalog_config(yaml, "/configs/x.yaml", variables({}));
  } catch (const ebs::Fault& fault) {
    return fault.what();
  }
  return "no fault";
}

}  // namespace

TEST_CASE("${VAR:-default} expansion") {
  const VariableLookup lookup = variables({{"EBS_DATA", "/data"}, {"EMPTY", ""}});
  CHECK(expand_variables("${EBS_DATA:-../shared/data}/x.csv", lookup, "p") == "/data/x.csv");
  CHECK(expand_variables("${MISSING:-../shared/data}/x.csv", lookup, "p") == "../shared/data/x.csv");
  CHECK(expand_variables("${EMPTY:-fallback}", lookup, "p") == "fallback");
  CHECK(expand_variables("${EBS_DATA}/a${EBS_DATA}", lookup, "p") == "/data/a/data");
  CHECK(expand_variables("plain $HOME", lookup, "p") == "plain $HOME");
  CHECK_THROWS_WITH_AS(expand_variables("${MISSING}/x", lookup, "cfg.yaml:3:7"),
                       doctest::Contains("cfg.yaml:3:7: variable MISSING is not set"), ebs::Fault);
  CHECK_THROWS_AS(expand_variables("${EBS_DATA", lookup, "p"), ebs::Fault);
}

TEST_CASE("a full configuration maps every field with its units") {
  const CatalogConfig config = parse_catalog_config(R"(
name: test
version: "1"
object_type: what type means
file: ${EBS_DATA:-../data}/t.csv
format: csv
text: {delimiter: ";", comment: "#", skip_after_header: 1, null_values: ["", "null"], byte_strings: true}
columns:
  id: [name, alt]
  ra: {column: RA, format: sexagesimal}
  dec: {column: DE, format: sexagesimal}
  type: {value: galaxy}
  redshift: z
  distance: {column: dist, unit: kpc}
  major_axis: {column: maj, unit: arcmin, kind: semi}
  axis_ratio: ba
  position_angle: {column: pa, unit: deg}
  magnitude: {column: mag, band: r}
  pmra: {column: pmra, unit: mas/yr}
  pmdec: pmdec
epoch: J2016.0
keep: [a, b]
)",
                                                    "/configs/test.yaml", variables({}));
  CHECK(config.name == "test");
  CHECK(config.data_file == "/data/t.csv");  // relative to the config's directory
  CHECK(config.delimiter == ';');
  CHECK(config.comment_prefix == "#");
  CHECK(config.skip_after_header == 1);
  CHECK(config.byte_strings);
  CHECK(config.id.columns == std::vector<std::string>{"name", "alt"});
  CHECK(config.ra_format == AngleFormat::sexagesimal);
  CHECK(config.type.constant == "galaxy");
  CHECK(config.distance_to_mpc == 1e-3);
  CHECK(config.major_axis_to_arcsec == 60.0);
  CHECK_FALSE(config.major_axis_is_diameter);
  CHECK(config.magnitude_band == "r");
  CHECK(config.epoch_mjd == 57388.5);
  CHECK(config.epoch_label == "J2016.0");
  CHECK(config.keep == std::vector<std::string>{"a", "b"});
}

TEST_CASE("configuration errors name the file, line and column") {
  const std::string base = "name: t\nfile: /x.csv\nformat: csv\n";
  CHECK(fault_text(base + "columns: {ra: a}\n").find("columns needs ra and dec") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, colour: c}\n").find("/configs/x.yaml:4:") == 0);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, colour: c}\n").find("unknown key 'colour'") != std::string::npos);
  CHECK(fault_text("name: t\nfile: /x.csv\nformat: parquet\ncolumns: {ra: a, dec: b}\n").find("/configs/x.yaml:3:9: format must be") == 0);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, major_axis: m}\n").find("major_axis needs") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, major_axis: {column: m, unit: furlong, kind: semi}}\n")
            .find("major_axis unit must be") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, pmra: p, pmdec: q}\n").find("need the catalogue 'epoch'") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, pmra: p}\n").find("both pmra and pmdec") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: {column: a, format: hours}, dec: {column: b, format: hours}}\n")
            .find("unknown Dec format 'hours'") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: a, dec: b}\nepoch: yesterday\n").find("epoch must be a Julian epoch") != std::string::npos);
  CHECK(fault_text(base + "columns: {ra: a, dec: b}\nkeep: [x, X]\n").find("case-insensitive") != std::string::npos);
  CHECK(fault_text("name: t\nformat: csv\ncolumns: {ra: a, dec: b}\n").find("missing required key 'file'") != std::string::npos);
  CHECK(fault_text("name: [t\n").find("/configs/x.yaml:") == 0);
  CHECK(fault_text(base + "columns: {ra: a, dec: b, ra: c}\n") ==
        "/configs/x.yaml:4:26: duplicate key 'ra' (first at /configs/x.yaml:4:11): YAML would keep only the first; remove one");
  CHECK(fault_text("name: t\nfile: /x.txt\nformat: fixed\ncolumns: {ra: a, dec: b}\n").find("needs 'fields'") != std::string::npos);
  CHECK(fault_text("name: t\nfile: /x.txt\nformat: fixed\nfields: [{name: a, columns: 5-2}]\ncolumns: {ra: a, dec: b}\n")
            .find("1 <= FIRST <= LAST") != std::string::npos);
  CHECK(fault_text("name: t\nfile: /x.txt\nformat: whitespace\ntext: {header: false}\ncolumns: {ra: a, dec: b}\n")
            .find("needs text.names") != std::string::npos);
}

TEST_CASE("every ready-made configuration under catalogs/ parses") {
  const auto dir = ebs::test::source_dir() / "catalogs";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path());
    const CatalogConfig config = load_catalog_config(entry.path(), variables({{"EBS_DATA", "/data"}}));
    // The TNS public-objects export has a folder of its own in the shared data.
    CHECK(config.data_file.parent_path() == (entry.path().stem() == "tns" ? "/data/tns" : "/data/catalogs"));
    CHECK_FALSE(config.object_type.empty());
    ++count;
  }
  CHECK(count == 10);
}
