// Catalogue source tables (CSV, whitespace, fixed-width text, FITS tables) through the loader
// `catalog build` uses: the rows are read, checked and converted under one of the repository's
// own catalogue configurations (catalogs/*.yaml), the indexed file is written, opened and
// queried. The configuration is the one whose data file starts like the input (its header), so
// the real tables are the seeds; any other input goes to one chosen by its length.
#include <unistd.h>

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

struct Configured {
  CatalogConfig config;
  std::string first_bytes;  // the start of its real data file
};

std::string first_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(80, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

const std::vector<Configured>& configurations() {
  static const std::vector<Configured> all = [] {
    const char* data = std::getenv("EBS_TEST_DATA");
    const std::string data_dir = data ? data : EBS_DEFAULT_TEST_DATA;
    auto lookup = [&](const std::string& name) -> std::optional<std::string> {
      if (name == "EBS_DATA") return data_dir;
      return std::nullopt;
    };
    std::vector<Configured> configs;
    for (const auto& entry : fs::directory_iterator(fs::path(EBS_SOURCE_DIR) / "catalogs")) {
      if (entry.path().extension() != ".yaml") continue;
      CatalogConfig config = ebs::catalog::load_catalog_config(entry.path(), lookup);
      std::string head = first_bytes(config.data_file);
      configs.push_back({std::move(config), std::move(head)});
    }
    return configs;
  }();
  return all;
}

const Configured& choose(std::string_view bytes) {
  const auto& all = configurations();
  size_t best = 0, best_common = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& head = all[i].first_bytes;
    size_t n = 0;
    while (n < head.size() && n < bytes.size() && head[n] == bytes[n]) ++n;
    if (n > best_common) best = i, best_common = n;
  }
  return best_common >= 8 ? all[best] : all[bytes.size() % all.size()];
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
