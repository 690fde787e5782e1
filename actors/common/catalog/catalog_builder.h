// Builds an indexed catalogue file (.ebscat, an SQLite database): a metadata table, the sources
// sorted by nested HEALPix pixel (the index), ready for `Catalog::open`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/common/catalog/catalog_config.h"
#include "actors/common/catalog/table_reader.h"

namespace ebs::catalog {

inline constexpr double kNull = std::numeric_limits<double>::quiet_NaN();

// One source's fields in catalogue units; NaN / nullopt = absent.
struct SourceFields {
  double ra_deg = kNull, dec_deg = kNull;
  double pmra_mas_per_yr = kNull, pmdec_mas_per_yr = kNull;
  double redshift = kNull, distance_mpc = kNull;
  double semi_major_arcsec = kNull, axis_ratio = kNull, position_angle_deg = kNull;
  double magnitude = kNull;
  std::optional<std::string_view> id, type;
};

// What the built catalogue says about itself (its metadata table).
struct CatalogDescription {
  std::string name, version, description, object_type;
  std::string source_file, content_hash, config_text;
  std::string epoch_label, magnitude_band;
  std::optional<double> epoch_mjd;
  std::vector<std::string> extra_columns;
  // field -> where it came from (column names, constant, unit conversion), for `catalog info`.
  std::vector<std::pair<std::string, std::string>> field_sources;
};

// Collects sources in memory (columnar) and writes the sorted, indexed SQLite file.
class CatalogWriter {
 public:
  explicit CatalogWriter(CatalogDescription description);
  ~CatalogWriter();
  CatalogWriter(const CatalogWriter&) = delete;
  CatalogWriter& operator=(const CatalogWriter&) = delete;

  // Coordinates must already be valid (RA in [0, 360), |Dec| <= 90). `extras` holds one cell per
  // description.extra_columns entry.
  void add(const SourceFields& source, const std::vector<Cell>& extras = {});
  size_t size() const;
  // Writes `out` (atomically: a temporary file renamed into place).
  // `index_order` overrides choose_index_order (memory against candidates per query).
  void write(const std::filesystem::path& out, int64_t skipped_rows = 0,
             std::optional<int> index_order = std::nullopt) const;

 private:
  struct Columns;
  CatalogDescription description_;
  std::unique_ptr<Columns> columns_;
};

struct BuildOptions {
  bool skip_bad_rows = false;
  size_t reasons_kept = 5;
};

struct BuildReport {
  int64_t rows = 0;
  int64_t skipped = 0;
  std::vector<std::string> skip_reasons;  // the first few, each "PLACE: message"
  std::string content_hash;
  int index_order = 0;
};

// Reads the configured table, checks and converts every row, and writes `out`. A bad row throws a
// Fault naming file, row and column unless options.skip_bad_rows.
BuildReport build_catalog(const CatalogConfig& config, const std::filesystem::path& out,
                          const BuildOptions& options = {});

// The HEALPix order of the in-memory offsets table: about one source per pixel.
int choose_index_order(size_t rows);
// "sha256:<hex>" of a file's bytes.
std::string sha256_of_file(const std::filesystem::path& path);

}  // namespace ebs::catalog
