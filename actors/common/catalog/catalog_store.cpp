#include "actors/common/catalog/catalog_store.h"

#include <fstream>
#include <sstream>

#include "actors/common/catalog/catalog_builder.h"
#include "actors/common/catalog/catalog_config.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::catalog {

namespace fs = std::filesystem;

bool is_catalog_config(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

fs::path resolve_path(const fs::path& base_dir, const std::string& path) {
  const fs::path p(path);
  if (p.is_absolute() || base_dir.empty()) return p;
  return base_dir / p;
}

std::vector<std::string> catalogue_files(const fs::path& path) {
  if (!is_catalog_config(path)) return {path.string()};
  try {
    return {path.string(), catalog::load_catalog_config(path).data_file.string()};
  } catch (const Fault&) {
    return {path.string()};  // a bad config: validate says what is wrong with it
  }
}

std::optional<std::string> catalogue_problem(const fs::path& path) {
  try {
    if (is_catalog_config(path)) {
      const catalog::CatalogConfig config = catalog::load_catalog_config(path);
      if (!fs::exists(config.data_file)) return config.data_file.string() + ": catalogue data file not found";
    } else {
      const Catalog opened(path);  // loads and checks the index
    }
  } catch (const Fault& f) {
    return f.place().empty() ? f.message() : f.place() + ": " + f.message();
  }
  return std::nullopt;
}

namespace {

// The cache file of a YAML config: changes when the config text or the data file changes.
fs::path cached_build(const catalog::CatalogConfig& config, const fs::path& cache_dir) {
  std::error_code ec;
  const auto size = fs::file_size(config.data_file, ec);
  if (ec) fail(config.data_file.string(), "catalogue data file not found");
  const auto mtime = fs::last_write_time(config.data_file, ec).time_since_epoch().count();
  std::ostringstream key;
  key << config.text << '\n' << fs::absolute(config.data_file).string() << '\n' << size << '\n' << mtime;
  return cache_dir / (config.name + "-" + hex64(fnv1a64(key.str())) + ".ebscat");
}

}  // namespace

fs::path built_catalogue_file(const fs::path& path, const fs::path& cache_dir) {
  if (!is_catalog_config(path)) return path;
  const catalog::CatalogConfig config = catalog::load_catalog_config(path);
  fs::path file = cached_build(config, cache_dir);
  if (!fs::exists(file)) {
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    if (ec) fail(cache_dir.string(), "cannot create the catalogue cache folder: " + ec.message());
    catalog::build_catalog(config, file);
  }
  return file;
}

std::shared_ptr<const Catalog> CatalogStore::open(const fs::path& path, const fs::path& cache_dir) {
  std::lock_guard lock(mutex_);
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  const std::string key = (ec ? path : canonical).string();
  if (auto it = open_.find(key); it != open_.end())
    if (auto catalog = it->second.lock()) return catalog;
  auto catalog = std::make_shared<const Catalog>(built_catalogue_file(path, cache_dir));
  open_[key] = catalog;
  return catalog;
}

CatalogueHandle::CatalogueHandle(std::string name, std::shared_ptr<const Catalog> catalog)
    : name_(std::move(name)), catalog_(std::move(catalog)) {}

void CatalogueHandle::search(double ra_deg, double dec_deg, double mjd, double radius_arcsec, bool nearest_only,
                             std::vector<catalog::Match>& out) const {
  const std::optional<double> epoch = std::isfinite(mjd) ? std::optional<double>(mjd) : std::nullopt;
  if (nearest_only) {
    out.clear();
    if (auto m = catalog_->nearest(ra_deg, dec_deg, radius_arcsec, epoch)) out.push_back(*m);
  } else {
    catalog_->all_within(ra_deg, dec_deg, radius_arcsec, out, epoch);
  }
}

const SourceSummary& CatalogueHandle::source(uint32_t index) {
  auto it = rows_.find(index);
  if (it != rows_.end()) return it->second;
  const catalog::CatalogRow row = catalog_->row(index);
  SourceSummary s;
  s.id = row.id.value_or("");
  s.type = row.type.value_or("");
  s.ra_deg = row.ra_deg;
  s.dec_deg = row.dec_deg;
  s.redshift = row.redshift.value_or(NAN);
  s.distance_mpc = row.distance_mpc.value_or(NAN);
  s.semi_major_arcsec = row.semi_major_arcsec.value_or(NAN);
  s.magnitude = row.magnitude.value_or(NAN);
  return rows_.emplace(index, std::move(s)).first->second;
}

std::filesystem::path workflow_dir(const ActorConfig& config) {
  return std::filesystem::path(config.file()).parent_path();
}

std::filesystem::path catalogue_cache_dir(const ActorContext& context) {
  const std::string configured = context.config.has("cache_dir") ? context.config.string("cache_dir") : "";
  if (!configured.empty()) return resolve_path(workflow_dir(context.config), configured);
  return std::filesystem::path(context.run_dir) / "catalog-cache";
}

}  // namespace ebs::catalog
