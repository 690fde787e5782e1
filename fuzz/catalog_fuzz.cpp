// Catalogue source tables (CSV, whitespace, fixed-width text, FITS tables) through the loader
// `catalog build` uses: the rows are read, checked and converted under one of the repository's
// own catalogue configurations (catalogs/*.yaml), the indexed file is written, opened and
// queried. The configuration is the one most of whose columns the input names, so each real
// table (the seeds) meets its own.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "actors/common/catalog/catalog.h"
#include "actors/common/catalog/catalog_builder.h"
#include "actors/common/catalog/catalog_config.h"
#include "fuzz/fuzz_target.h"

namespace {

namespace fs = std::filesystem;
using ebs::catalog::CatalogConfig;

// A configuration and the column names it reads (mapped fields and kept columns).
struct Configured {
  CatalogConfig config;
  std::vector<std::string> columns;
};

std::vector<std::string> column_names(const CatalogConfig& c) {
  std::vector<std::string> names = c.keep;
  for (const auto* field : {&c.ra, &c.dec, &c.id, &c.type, &c.redshift, &c.distance, &c.major_axis, &c.axis_ratio,
                            &c.position_angle, &c.magnitude, &c.pmra, &c.pmdec})
    names.insert(names.end(), field->columns.begin(), field->columns.end());
  return names;
}

const std::vector<Configured>& configurations() {
  static const std::vector<Configured> all = [] {
    const char* data = std::getenv("EBS_TEST_DATA");
    const std::string data_dir = data ? data : EBS_DEFAULT_TEST_DATA;
    auto lookup = [&](const std::string& name) -> std::optional<std::string> {
      if (name == "EBS_DATA") return data_dir;
      return std::nullopt;
    };
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(fs::path(EBS_SOURCE_DIR) / "catalogs"))
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<Configured> configs;
    for (const fs::path& file : files) {
      CatalogConfig config = ebs::catalog::load_catalog_config(file, lookup);
      std::vector<std::string> columns = column_names(config);
      configs.push_back({std::move(config), std::move(columns)});
    }
    return configs;
  }();
  return all;
}

// The configuration most of whose columns the input names (in its header line or its FITS
// TTYPE cards), so that each real table meets its own; without any, one chosen by length.
const Configured& choose(std::string_view bytes) {
  const auto& all = configurations();
  const std::string_view head = bytes.substr(0, 64 * 1024);
  const Configured* best = nullptr;
  double best_score = 0;
  for (const Configured& c : all) {
    size_t found = 0;
    for (const std::string& name : c.columns) found += head.find(name) != std::string_view::npos;
    double score = c.columns.empty() ? 0 : static_cast<double>(found) / c.columns.size() + 1e-3 * found;
    if (score > best_score) best = &c, best_score = score;
  }
  return best ? *best : all[bytes.size() % all.size()];
}

const fs::path& work_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("ebs-catalog-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

EBS_FUZZ_ONE_INPUT(bytes) {
  CatalogConfig config = choose(bytes).config;
  config.data_file = work_dir() / (config.format == ebs::catalog::TableFormat::fits ? "input.fits" : "input.txt");
  {
    std::ofstream out(config.data_file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const fs::path built = work_dir() / "built.ebscat";
  ebs::catalog::BuildOptions options;
  options.skip_bad_rows = bytes.size() % 2 == 0;  // both ways: stop at the first bad row, or skip it
  ebs::catalog::build_catalog(config, built, options);
  ebs::catalog::Catalog catalog(built);
  // The whole sky (the widest query path), then the columns of the nearest few rows.
  auto matches = catalog.all_within(0.0, 0.0, 180.0 * 3600.0);
  for (size_t i = 0; i < matches.size() && i < 3; ++i) (void)ebs::catalog::to_json(catalog.row(matches[i].index));
}
