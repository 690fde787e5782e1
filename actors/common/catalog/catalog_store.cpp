#include "actors/common/catalog/catalog_store.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/common/catalog/catalog_builder.h"
#include "actors/common/catalog/catalog_config.h"
#include "actors/common/catalog/catalog_format.h"
#include "catalog_builder_revision.h"  // generated: a hash of the builder's sources (CMakeLists.txt)
#include "engine/runtime/actor_logic.h"
#include "engine/util/cache_use.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"
#include "engine/util/user_cache_dir.h"

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

// A 64-bit fingerprint of a file's bytes: FNV-1a's step over 8-byte words, each mixed by a shift,
// then the last bytes one by one. ~1 instruction a byte against FNV-1a's ~7 (31 M instructions at
// every run for the reference workflow's nine catalogues). A cache key only: not FNV-1a's value.
uint64_t content_fingerprint(const fs::path& file) {
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int error = errno;
    if (error == ENOENT) fail(file.string(), "catalogue data file not found");
    fail(file.string(), std::string("cannot open the catalogue data file: ") + (error ? std::strerror(error) : "unknown error"));
  }
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t hash = 1469598103934665603ull;
  std::string chunk(size_t{1} << 16, '\0');  // a multiple of 8: only the file's end has a tail
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t word;
      std::memcpy(&word, chunk.data() + i, 8);
      hash = (hash ^ word) * kPrime;
      hash ^= hash >> 29;  // a product carries a change upwards only: bring the high bits down
    }
    for (; i < n; ++i) hash = (hash ^ static_cast<unsigned char>(chunk[i])) * kPrime;
  }
  if (in.bad()) fail(file.string(), "cannot read the catalogue data file");
  return hash;
}

// The cache file of a YAML config: named by what the build is made of (the config's text, the data
// file's bytes, the format version and the builder's revision: a hash of its sources, so a changed
// builder never reuses builds of the old one), not by paths or times, so that any run, from any
// folder, finds a build of the same catalogue, and a changed one (even at the same size and time)
// gets a file of its own.
fs::path cached_build(const catalog::CatalogConfig& config, const fs::path& cache_dir) {
  const std::string key = config.text + '\n' + std::to_string(kFormatVersion) + '.' + EBS_CATALOG_BUILDER_REVISION +
                          '\n' + hex64(content_fingerprint(config.data_file));
  return cache_dir / (config.name + "-" + hex64(fnv1a64(key)) + ".ebscat");
}

// The folder of builds kept across runs: $EBS_CATALOG_CACHE, else $XDG_CACHE_HOME/ebs-flow/catalogs,
// else ~/.cache/ebs-flow/catalogs; empty when none can be named.
fs::path shared_cache_dir() {
  if (const char* dir = std::getenv("EBS_CATALOG_CACHE"); dir && *dir) return dir;
  return user_cache_dir("catalogs");
}

}  // namespace

namespace {

// Temporary files of builds that ended without removing theirs (a killed run) and are older than
// any build takes: removed when a build starts. A younger one may be another run's, still writing.
void remove_stale_partial_builds(const fs::path& cache_dir) {
  constexpr auto kStale = std::chrono::hours(1);
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (fs::directory_iterator it(cache_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find(".partial-") == std::string::npos) continue;
    std::error_code stat_ec;
    const auto written = it->last_write_time(stat_ec);
    if (stat_ec || now - written < kStale) continue;
    std::error_code remove_ec;
    if (fs::remove(it->path(), remove_ec)) spdlog::info("removed {}: a catalogue build left unfinished", it->path().string());
  }
}

// Other builds of a catalogue (older versions of its config or data, another checkout's) are kept
// while runs use them and removed when a new build of that catalogue is made: those no run has
// opened for a week, and all but the four last opened, unless a run holds one open now (a `Catalog`
// holds a shared flock on its file). The folder holds the versions in use, not every version ever
// built. A build's modification time says when a run last opened it, refreshed at most daily (no
// write at every run; in a folder the run cannot write, times stay as they are).
constexpr auto kUnusedBuildKept = std::chrono::hours(24 * 7);
constexpr size_t kOtherBuildsKept = 4;

// True for `<name>-<16 hex digits>.ebscat`, a build of the catalogue named `name` (cached_build).
bool is_build_of(const std::string& file_name, const std::string& name) {
  constexpr std::string_view kExtension = ".ebscat";
  constexpr size_t kHashDigits = 16;
  if (file_name.size() != name.size() + 1 + kHashDigits + kExtension.size()) return false;
  if (file_name.compare(0, name.size(), name) != 0 || file_name[name.size()] != '-') return false;
  if (file_name.compare(file_name.size() - kExtension.size(), kExtension.size(), kExtension) != 0) return false;
  for (size_t i = name.size() + 1; i < name.size() + 1 + kHashDigits; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(file_name[i]))) return false;
  return true;
}

void remove_unused_builds(const fs::path& cache_dir, const std::string& name, const fs::path& made) {
  const auto now = fs::file_time_type::clock::now();
  std::vector<std::pair<fs::file_time_type, fs::path>> others;  // last opened, build
  std::error_code ec;
  for (fs::directory_iterator it(cache_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path() == made || !is_build_of(it->path().filename().string(), name)) continue;
    std::error_code stat_ec;
    const auto opened = it->last_write_time(stat_ec);
    if (!stat_ec) others.emplace_back(opened, it->path());
  }
  std::sort(others.begin(), others.end(), std::greater<>());  // last opened first
  for (size_t i = 0; i < others.size(); ++i) {
    const auto& [opened, build] = others[i];
    if (i < kOtherBuildsKept && now - opened < kUnusedBuildKept) continue;
    if (remove_unless_held(build) == CacheRemoval::removed)
      spdlog::info("removed {}: another build of catalogue '{}', {}", build.string(), name,
                   i < kOtherBuildsKept ? "not opened for a week" : "past the four last opened");
  }
}

// built_catalogue_file; `was_cached` says whether the build was already there.
fs::path built_file(const fs::path& path, const fs::path& cache_dir, bool& was_cached) {
  was_cached = false;
  if (!is_catalog_config(path)) return path;
  const catalog::CatalogConfig config = catalog::load_catalog_config(path);
  fs::path file = cached_build(config, cache_dir);
  was_cached = fs::exists(file);
  if (!was_cached) {
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    if (ec) fail(cache_dir.string(), "cannot create the catalogue cache folder: " + ec.message());
    remove_stale_partial_builds(cache_dir);
    catalog::build_catalog(config, file);  // written under a name of its own, then renamed
    remove_unused_builds(cache_dir, config.name, file);
  } else {
    mark_cache_use(file);
  }
  return file;
}

}  // namespace

fs::path built_catalogue_file(const fs::path& path, const fs::path& cache_dir) {
  bool was_cached;
  return built_file(path, cache_dir, was_cached);
}

void open_built_catalogue(const fs::path& path, const fs::path& cache_dir, const std::function<void(const fs::path&)>& open) {
  bool was_cached;
  const fs::path file = built_file(path, cache_dir, was_cached);
  if (!was_cached) return open(file);
  try {
    return open(file);
  } catch (const Fault& f) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      spdlog::info("{}: its cached build {} was removed while it was being opened (another run's prune): built again",
                   path.string(), file.string());
    } else {
      spdlog::warn("{}: its cached build {} cannot be opened ({}): removed, built again", path.string(), file.string(),
                   f.message());
      fs::remove(file, ec);
    }
  }
  open(built_file(path, cache_dir, was_cached));
}

std::shared_ptr<const Catalog> CatalogStore::open(const fs::path& path, const fs::path& cache_dir) {
  std::lock_guard lock(mutex_);
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  const std::string key = (ec ? path : canonical).string();
  if (auto it = open_.find(key); it != open_.end())
    if (auto catalog = it->second.lock()) return catalog;
  std::shared_ptr<const Catalog> catalog;
  open_built_catalogue(path, cache_dir, [&](const fs::path& file) { catalog = std::make_shared<const Catalog>(file); });
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
  return shared_catalogue_cache_dir(fs::path(context.run_dir) / "catalog-cache");
}

std::filesystem::path shared_catalogue_cache_dir(const std::filesystem::path& fallback) {
  // The shared folder when it can be made (a read-only home must not stop a run), else the run's.
  const fs::path shared = shared_cache_dir();
  std::error_code ec;
  std::string problem;
  if (shared.empty()) problem = "none of EBS_CATALOG_CACHE, XDG_CACHE_HOME, HOME is set";
  else if (fs::create_directories(shared, ec), ec) problem = "cannot create " + shared.string() + ": " + ec.message();
  else if (!fs::is_directory(shared, ec)) problem = shared.string() + " is not a folder";
  else if (::access(shared.c_str(), W_OK | X_OK) != 0) problem = "cannot write in " + shared.string() + ": " + std::strerror(errno);
  const fs::path chosen = problem.empty() ? shared : fallback;
  // Said once a folder (every actor instance asks): where builds go, and why not the shared one.
  static std::mutex mutex;
  static std::set<fs::path> said;
  std::lock_guard lock(mutex);
  if (said.insert(chosen).second) {
    if (problem.empty()) spdlog::info("catalogue builds kept in {}", chosen.string());
    else spdlog::warn("catalogue builds kept in {}, not shared: {}", chosen.string(), problem);
  }
  return chosen;
}

}  // namespace ebs::catalog
