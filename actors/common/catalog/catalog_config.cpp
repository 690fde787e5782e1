#include "actors/common/catalog/catalog_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "actors/common/catalog/sky_geometry.h"
#include "engine/graph/actor_config.h"
#include "engine/graph/yaml_keys.h"
#include "engine/util/fault.h"

namespace ebs::catalog {

VariableLookup environment_variables() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
  };
}

std::string expand_variables(std::string_view text, const VariableLookup& lookup,
                             const std::string& place) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) fail(place, "unterminated ${ in '" + std::string(text) + "'");
      std::string_view inside = text.substr(i + 2, close - i - 2);
      std::string name(inside), fallback;
      bool has_default = false;
      if (size_t dash = inside.find(":-"); dash != std::string_view::npos) {
        name = std::string(inside.substr(0, dash));
        fallback = std::string(inside.substr(dash + 2));
        has_default = true;
      }
      if (name.empty()) fail(place, "empty variable name in '" + std::string(text) + "'");
      std::optional<std::string> value = lookup(name);
      if (value && !value->empty()) {
        out += *value;
      } else if (has_default) {
        out += fallback;
      } else {
        fail(place, "variable " + name + " is not set and has no default (write ${" + name + ":-default})");
      }
      i = close + 1;
    } else {
      out += text[i++];
    }
  }
  return out;
}

namespace {

std::string place_of(const std::filesystem::path& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file.string();
  return file.string() + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

struct Reader {
  std::filesystem::path file;

  [[noreturn]] void error(const YAML::Node& node, const std::string& message) const {
    fail(place_of(file, node), message);
  }

  std::string scalar(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) error(node, what + " must be a single value");
    return node.Scalar();
  }

  bool boolean(const YAML::Node& node, const std::string& what) const {
    const std::string text = scalar(node, what);
    if (text == "true" || text == "yes") return true;
    if (text == "false" || text == "no") return false;
    error(node, what + " must be true or false, not '" + text + "'");
  }

  int integer(const YAML::Node& node, const std::string& what, int min_value) const {
    const std::string text = scalar(node, what);
    try {
      size_t used = 0;
      int value = std::stoi(text, &used);
      if (used == text.size() && value >= min_value) return value;
    } catch (const std::exception&) {
    }
    error(node, what + " must be an integer >= " + std::to_string(min_value) + ", not '" + text + "'");
  }

  char single_char(const YAML::Node& node, const std::string& what) const {
    std::string text = scalar(node, what);
    if (text == "\\t") text = "\t";
    if (text.size() != 1) error(node, what + " must be one character, not '" + text + "'");
    return text[0];
  }

  std::vector<std::string> strings(const YAML::Node& node, const std::string& what) const {
    std::vector<std::string> out;
    if (node.IsScalar()) return {node.Scalar()};
    if (!node.IsSequence()) error(node, what + " must be a list of names");
    for (const auto& item : node) out.push_back(scalar(item, what));
    return out;
  }

  void check_keys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& what) const {
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        error(entry.first, "unknown key '" + key + "' in " + what + " (known: " + list + ")");
      }
    }
  }
};

// A mapping entry: `ra: RAJ2000`, `id: [HyperLEDA, GWGC]` or `{column|columns|value, unit, ...}`.
FieldSource field_source(const Reader& r, const YAML::Node& node, const std::string& field,
                         const std::set<std::string>& extra_keys) {
  FieldSource source;
  if (node.IsScalar()) {
    source.columns = {node.Scalar()};
    return source;
  }
  if (node.IsSequence()) {
    source.columns = r.strings(node, "columns." + field);
    return source;
  }
  if (!node.IsMap()) r.error(node, "columns." + field + " must be a column name, a list or a map");
  std::set<std::string> allowed = {"column", "columns", "value", "unit"};
  allowed.insert(extra_keys.begin(), extra_keys.end());
  r.check_keys(node, allowed, "columns." + field);
  if (node["column"]) source.columns = {r.scalar(node["column"], "column")};
  if (node["columns"]) source.columns = r.strings(node["columns"], "columns");
  if (node["value"]) source.constant = r.scalar(node["value"], "value");
  if (node["unit"]) source.unit = r.scalar(node["unit"], "unit");
  if (!source.present()) r.error(node, "columns." + field + " needs column, columns or value");
  return source;
}

AngleFormat angle_format(const Reader& r, const YAML::Node& node, bool is_ra) {
  const std::string text = r.scalar(node, "format");
  if (text == "degrees" || text == "deg") return AngleFormat::degrees;
  if (is_ra && (text == "hours" || text == "hourangle")) return AngleFormat::hours;
  if (text == "sexagesimal") return AngleFormat::sexagesimal;
  r.error(node, std::string("unknown ") + (is_ra ? "RA" : "Dec") + " format '" + text +
                    "' (degrees" + (is_ra ? ", hours" : "") + " or sexagesimal)");
}

double parse_epoch(const Reader& r, const YAML::Node& node, std::string& label) {
  if (node.IsMap()) {
    r.check_keys(node, {"mjd"}, "epoch");
    label = "MJD " + r.scalar(node["mjd"], "epoch.mjd");
    try {
      return std::stod(r.scalar(node["mjd"], "epoch.mjd"));
    } catch (const std::exception&) {
      r.error(node["mjd"], "epoch.mjd must be a number");
    }
  }
  label = r.scalar(node, "epoch");
  std::string text = label;
  if (!text.empty() && (text[0] == 'J' || text[0] == 'j')) text = text.substr(1);
  try {
    size_t used = 0;
    double year = std::stod(text, &used);
    if (used == text.size() && year > 1000 && year < 3000) return mjd_from_julian_epoch(year);
  } catch (const std::exception&) {
  }
  r.error(node, "epoch must be a Julian epoch such as J2016.0 or {mjd: 57388.5}, not '" + label + "'");
}

}  // namespace

CatalogConfig parse_catalog_config(std::string_view yaml_text, const std::filesystem::path& path,
                                   const VariableLookup& lookup) {
  Reader r{path};
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    fail(path.string() + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1),
         "YAML: " + e.msg);
  }
  if (!root.IsMap()) fail(path.string(), "a catalogue configuration must be a YAML map");
  for (const DuplicateKey& d : key_problems(root).duplicates)
    fail(ebs::place_of(path.string(), d.second), describe_duplicate(path.string(), d));
  r.check_keys(root,
               {"name", "version", "description", "object_type", "file", "format", "text", "fields",
                "fits", "columns", "epoch", "keep"},
               "the configuration");

  CatalogConfig config;
  config.config_file = path;
  config.text = std::string(yaml_text);
  auto required = [&](const char* key) {
    if (!root[key]) fail(path.string(), std::string("missing required key '") + key + "'");
    return root[key];
  };
  config.name = r.scalar(required("name"), "name");
  // The name starts the cached build's file name (catalog_store.cpp): it must stay one file name.
  if (config.name.empty() || config.name == "." || config.name == ".." ||
      config.name.find_first_of(std::string("/\0", 2)) != std::string::npos)
    r.error(root["name"], "name '" + config.name + "' cannot start a file name: no '/', not empty, '.' or '..'");
  if (root["version"]) config.version = r.scalar(root["version"], "version");
  if (root["description"]) config.description = r.scalar(root["description"], "description");
  if (root["object_type"]) config.object_type = r.scalar(root["object_type"], "object_type");

  const YAML::Node file_node = required("file");
  std::filesystem::path data = expand_variables(r.scalar(file_node, "file"), lookup, place_of(path, file_node));
  if (data.is_relative()) data = path.parent_path() / data;
  config.data_file = data.lexically_normal();

  const YAML::Node format_node = required("format");
  const std::string format = r.scalar(format_node, "format");
  if (format == "csv") config.format = TableFormat::csv;
  else if (format == "whitespace") config.format = TableFormat::whitespace;
  else if (format == "fixed") config.format = TableFormat::fixed;
  else if (format == "fits") config.format = TableFormat::fits;
  else r.error(format_node, "format must be csv, whitespace, fixed or fits, not '" + format + "'");

  if (const YAML::Node text = root["text"]) {
    if (config.format == TableFormat::fits) r.error(text, "text options do not apply to FITS tables");
    r.check_keys(text, {"delimiter", "quote", "comment", "header", "skip_lines", "skip_after_header",
                        "names", "null_values", "byte_strings"},
                 "text");
    if (text["delimiter"]) config.delimiter = r.single_char(text["delimiter"], "text.delimiter");
    if (text["quote"]) config.quote = r.single_char(text["quote"], "text.quote");
    if (text["comment"]) config.comment_prefix = r.scalar(text["comment"], "text.comment");
    if (text["header"]) config.header = r.boolean(text["header"], "text.header");
    if (text["skip_lines"]) config.skip_lines = r.integer(text["skip_lines"], "text.skip_lines", 0);
    if (text["skip_after_header"])
      config.skip_after_header = r.integer(text["skip_after_header"], "text.skip_after_header", 0);
    if (text["names"]) config.names = r.strings(text["names"], "text.names");
    if (text["null_values"]) config.null_values = r.strings(text["null_values"], "text.null_values");
    if (text["byte_strings"]) config.byte_strings = r.boolean(text["byte_strings"], "text.byte_strings");
  }
  if (config.format == TableFormat::fixed) {
    config.header = false;
    const YAML::Node fields = root["fields"];
    if (!fields || !fields.IsSequence() || fields.size() == 0)
      fail(path.string(), "a fixed-width table needs 'fields': a list of {name, columns: FIRST-LAST}");
    for (const auto& field : fields) {
      r.check_keys(field, {"name", "columns"}, "fields");
      if (!field["name"] || !field["columns"]) r.error(field, "each field needs name and columns");
      FixedField f;
      f.name = r.scalar(field["name"], "fields.name");
      const std::string range = r.scalar(field["columns"], "fields.columns");
      const size_t dash = range.find('-');
      try {
        f.first = std::stoi(range.substr(0, dash));
        f.last = dash == std::string::npos ? f.first : std::stoi(range.substr(dash + 1));
      } catch (const std::exception&) {
        r.error(field["columns"], "columns must be FIRST-LAST (1-based), not '" + range + "'");
      }
      if (f.first < 1 || f.last < f.first)
        r.error(field["columns"], "columns must be FIRST-LAST with 1 <= FIRST <= LAST, not '" + range + "'");
      config.fixed_fields.push_back(f);
    }
  } else if (root["fields"]) {
    r.error(root["fields"], "'fields' is only for format: fixed");
  }
  if (config.format == TableFormat::whitespace && !config.header && config.names.empty())
    fail(path.string(), "a whitespace table without header needs text.names");
  if (const YAML::Node fits = root["fits"]) {
    if (config.format != TableFormat::fits) r.error(fits, "'fits' options are only for format: fits");
    r.check_keys(fits, {"hdu"}, "fits");
    if (fits["hdu"]) config.fits_hdu = r.scalar(fits["hdu"], "fits.hdu");
  }

  const YAML::Node columns = required("columns");
  if (!columns.IsMap()) r.error(columns, "columns must map fields to source columns");
  r.check_keys(columns,
               {"ra", "dec", "id", "type", "redshift", "distance", "major_axis", "axis_ratio",
                "position_angle", "magnitude", "pmra", "pmdec"},
               "columns");
  auto field = [&](const char* key, FieldSource& target, std::set<std::string> extra = {}) {
    if (const YAML::Node node = columns[key]) target = field_source(r, node, key, extra);
  };
  field("ra", config.ra, {"format"});
  field("dec", config.dec, {"format"});
  if (!config.ra.present() || !config.dec.present()) r.error(columns, "columns needs ra and dec");
  if (columns["ra"].IsMap() && columns["ra"]["format"])
    config.ra_format = angle_format(r, columns["ra"]["format"], true);
  if (columns["dec"].IsMap() && columns["dec"]["format"])
    config.dec_format = angle_format(r, columns["dec"]["format"], false);
  field("id", config.id);
  field("type", config.type);
  field("redshift", config.redshift);
  field("distance", config.distance);
  field("major_axis", config.major_axis, {"kind"});
  field("axis_ratio", config.axis_ratio);
  field("position_angle", config.position_angle);
  field("magnitude", config.magnitude, {"band"});
  field("pmra", config.pmra);
  field("pmdec", config.pmdec);

  if (config.distance.present()) {
    const std::string unit = config.distance.unit.empty() ? "Mpc" : config.distance.unit;
    if (unit == "Mpc") config.distance_to_mpc = 1.0;
    else if (unit == "kpc") config.distance_to_mpc = 1e-3;
    else if (unit == "pc") config.distance_to_mpc = 1e-6;
    else r.error(columns["distance"], "distance unit must be Mpc, kpc or pc, not '" + unit + "'");
    config.distance.unit = unit;
  }
  if (config.major_axis.present()) {
    const YAML::Node node = columns["major_axis"];
    if (!node.IsMap() || !node["unit"] || !node["kind"])
      r.error(node, "major_axis needs {column, unit: arcsec|arcmin|deg, kind: diameter|semi}");
    const std::string unit = config.major_axis.unit;
    if (unit == "arcsec") config.major_axis_to_arcsec = 1.0;
    else if (unit == "arcmin") config.major_axis_to_arcsec = 60.0;
    else if (unit == "deg") config.major_axis_to_arcsec = 3600.0;
    else r.error(node["unit"], "major_axis unit must be arcsec, arcmin or deg, not '" + unit + "'");
    const std::string kind = r.scalar(node["kind"], "major_axis.kind");
    if (kind == "diameter") config.major_axis_is_diameter = true;
    else if (kind == "semi") config.major_axis_is_diameter = false;
    else r.error(node["kind"], "major_axis kind must be diameter or semi, not '" + kind + "'");
  }
  if (config.position_angle.present() && !config.position_angle.unit.empty() &&
      config.position_angle.unit != "deg")
    r.error(columns["position_angle"], "position_angle unit must be deg");
  if (config.magnitude.present() && columns["magnitude"].IsMap() && columns["magnitude"]["band"])
    config.magnitude_band = r.scalar(columns["magnitude"]["band"], "magnitude.band");
  for (auto [key, source] : {std::pair{"pmra", &config.pmra}, std::pair{"pmdec", &config.pmdec}}) {
    if (source->present() && !source->unit.empty() && source->unit != "mas/yr")
      r.error(columns[key], std::string(key) + " unit must be mas/yr");
    if (source->present()) source->unit = "mas/yr";
  }
  if (config.pmra.present() != config.pmdec.present())
    r.error(columns, "proper motions need both pmra and pmdec");
  if (const YAML::Node epoch = root["epoch"]) config.epoch_mjd = parse_epoch(r, epoch, config.epoch_label);
  if (config.pmra.present() && !config.epoch_mjd)
    r.error(columns["pmra"], "proper motions need the catalogue 'epoch' (e.g. epoch: J2016.0)");

  if (const YAML::Node keep = root["keep"]) {
    config.keep = r.strings(keep, "keep");
    std::set<std::string> seen;
    for (const std::string& name : config.keep) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (!seen.insert(lower).second) r.error(keep, "keep names '" + name + "' twice (names are case-insensitive)");
    }
  }
  return config;
}

CatalogConfig load_catalog_config(const std::filesystem::path& path, const VariableLookup& lookup) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot read the catalogue configuration");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_catalog_config(text.str(), path, lookup);
}

}  // namespace ebs::catalog
