// A catalogue configuration (YAML, see docs/catalogs.md and catalogs/*.yaml): where the data file
// is, how to read it (CSV, whitespace, fixed-width text or a FITS table) and how its columns map
// onto the catalogue's fields (position, id, type, redshift, distance, size, magnitude, motion).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::catalog {

enum class TableFormat { csv, whitespace, fixed, fits };

// How RA/Dec text or numbers are written.
enum class AngleFormat {
  degrees,      // decimal degrees
  hours,        // decimal hours (RA only)
  sexagesimal,  // RA in h:m:s, Dec in d:m:s; a plain number is read as hours (RA) / degrees (Dec)
};

// Where a field's value comes from: the first non-null of `columns`, else `constant`.
struct FieldSource {
  std::vector<std::string> columns;
  std::optional<std::string> constant;
  std::string unit;  // as written in the config ("deg", "arcmin", "Mpc", ...)
  bool present() const { return !columns.empty() || constant.has_value(); }
};

// A field of a fixed-width table: 1-based, inclusive character columns as in VizieR ReadMe files.
struct FixedField {
  std::string name;
  int first = 0;
  int last = 0;
};

struct CatalogConfig {
  std::filesystem::path config_file;
  std::string name;
  std::string version;
  std::string description;
  std::string object_type;  // what the `type` field means, in words
  std::filesystem::path data_file;  // variables expanded, relative paths resolved against config dir

  TableFormat format = TableFormat::csv;
  // Text options.
  char delimiter = ',';
  char quote = '"';
  std::string comment_prefix;        // lines starting with it are skipped ("#")
  bool header = true;                // first data line holds the column names
  int skip_lines = 0;                // lines skipped before anything else
  int skip_after_header = 0;         // e.g. VizieR's units and dashes lines
  std::vector<std::string> names;    // column names when there is no header
  std::vector<FixedField> fixed_fields;
  std::vector<std::string> null_values = {""};
  bool byte_strings = false;         // strip Python byte-string literals b'...'
  // FITS options: the table HDU, by 1-based number ("2") or EXTNAME; empty = first table.
  std::string fits_hdu;

  // Field mapping.
  FieldSource ra, dec, id, type, redshift, distance, major_axis, axis_ratio, position_angle,
      magnitude, pmra, pmdec;
  AngleFormat ra_format = AngleFormat::degrees;
  AngleFormat dec_format = AngleFormat::degrees;
  double distance_to_mpc = 1.0;        // from distance.unit
  double major_axis_to_arcsec = 1.0;   // from major_axis.unit
  bool major_axis_is_diameter = true;  // major_axis.kind: diameter | semi
  std::string magnitude_band;
  std::optional<double> epoch_mjd;     // catalogue epoch for proper motions
  std::string epoch_label;             // as written ("J2016.0")
  std::vector<std::string> keep;       // extra columns kept verbatim

  std::string text;  // the configuration as read, stored in the built catalogue for provenance
};

// Looks up a variable for ${VAR} / ${VAR:-default} expansion; nullopt = unset.
using VariableLookup = std::function<std::optional<std::string>(const std::string&)>;
VariableLookup environment_variables();

// Expands ${VAR} and ${VAR:-default} (default used when VAR is unset or empty). An unset variable
// without a default is an error naming `place`.
std::string expand_variables(std::string_view text, const VariableLookup& lookup,
                             const std::string& place);

// Reads and checks a configuration; every error names FILE:LINE:COL of the offending YAML node.
CatalogConfig load_catalog_config(const std::filesystem::path& path,
                                  const VariableLookup& lookup = environment_variables());
CatalogConfig parse_catalog_config(std::string_view yaml_text, const std::filesystem::path& path,
                                   const VariableLookup& lookup = environment_variables());

}  // namespace ebs::catalog
