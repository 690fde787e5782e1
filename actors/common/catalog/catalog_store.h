// Opening catalogues for the crossmatch and classify actors: a `.ebscat` file is loaded; a YAML
// catalogue config (catalogs/*.yaml) is built once into a cache folder kept across runs, under a
// name derived from the config text and the data file's bytes, then loaded (docs/catalogs.md,
// "The catalogue cache"). One CatalogStore
// is shared by every actor type registered together, so instances (parallelism) and actors
// naming the same file share one in-memory index.
#pragma once

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/common/catalog/catalog.h"
#include "engine/graph/actor_config.h"

namespace ebs {
struct ActorContext;
}

namespace ebs::catalog {

// True for a YAML catalogue configuration (built on open), false for an indexed .ebscat file.
bool is_catalog_config(const std::filesystem::path& path);

// What is wrong with a catalogue reference, for `validate`: a missing or damaged .ebscat file, a
// bad YAML config or its missing data file. nullopt when it can be opened.
std::optional<std::string> catalogue_problem(const std::filesystem::path& path);

// The files that make the catalogue at `path`: itself, and a YAML config's data file (as the
// config resolves it). For ActorType::needed_files: a cluster run ships them to its nodes.
std::vector<std::string> catalogue_files(const std::filesystem::path& path);

// `path` resolved against `base_dir` unless absolute.
std::filesystem::path resolve_path(const std::filesystem::path& base_dir, const std::string& path);

// The .ebscat file of `path`: the file itself, or a YAML config's cached build in `cache_dir`
// (built now when no up-to-date build is there). Faults name the file.
std::filesystem::path built_catalogue_file(const std::filesystem::path& path, const std::filesystem::path& cache_dir);

// Calls `open` with the .ebscat file of `path` (built_catalogue_file). When `path` is a YAML config
// and its build, found in the cache, fails to open (a Fault: a damaged file), the build is removed
// (logged) and built and opened once more; a second failure is the caller's Fault.
void open_built_catalogue(const std::filesystem::path& path, const std::filesystem::path& cache_dir,
                          const std::function<void(const std::filesystem::path& file)>& open);

// Catalogue and rule files resolve relative to the workflow file's folder.
std::filesystem::path workflow_dir(const ActorConfig& config);
// Where catalogue YAML configs are built: `cache_dir` of the config, else $EBS_CATALOG_CACHE, else
// $XDG_CACHE_HOME/ebs-flow/catalogs or ~/.cache/ebs-flow/catalogs, else (none set, or the folder
// cannot be made or written) <run dir>/catalog-cache.
std::filesystem::path catalogue_cache_dir(const ActorContext& context);
// The folder of builds shared by every run ($EBS_CATALOG_CACHE, else the user's cache) when it can
// be made and written, else `fallback`; logs once a folder which one was taken.
std::filesystem::path shared_catalogue_cache_dir(const std::filesystem::path& fallback);

class CatalogStore {
 public:
  // The catalogue at `path` (.ebscat or YAML config), loaded once while anyone holds it. A YAML
  // config is built into `cache_dir` when no up-to-date build is there. Faults name the file.
  std::shared_ptr<const Catalog> open(const std::filesystem::path& path, const std::filesystem::path& cache_dir);

 private:
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<const Catalog>> open_;
};

// The columns of a source that annotations and rules need, absent values as NaN / empty.
struct SourceSummary {
  std::string id, type;
  double ra_deg = NAN, dec_deg = NAN;
  double redshift = NAN, distance_mpc = NAN, semi_major_arcsec = NAN, magnitude = NAN;
};

// A catalogue plus a per-instance cache of the rows it has matched: Catalog::row reads SQLite
// under a lock (microseconds), so each matched source is read once per actor instance. Not
// thread-safe: one per actor instance.
class CatalogueHandle {
 public:
  CatalogueHandle(std::string name, std::shared_ptr<const Catalog> catalog);

  const std::string& name() const { return name_; }
  const Catalog& catalog() const { return *catalog_; }
  // The catalogue's SHA-256 content hash, for provenance.
  const std::string& content_hash() const { return catalog_->info().content_hash; }

  // Sources within `radius_arcsec` of (ra, dec) at epoch `mjd` (proper motions propagated),
  // nearest first; only the nearest one when `nearest_only`. `out` is reused.
  void search(double ra_deg, double dec_deg, double mjd, double radius_arcsec, bool nearest_only,
              std::vector<catalog::Match>& out) const;

  const SourceSummary& source(uint32_t index);

 private:
  std::string name_;
  std::shared_ptr<const Catalog> catalog_;
  std::unordered_map<uint32_t, SourceSummary> rows_;
};

}  // namespace ebs::catalog
