// The model registry: a SQLite file holding every registered model version with its bytes,
// content hash, feature set, training-data reference, metrics, state and timestamps.
//   state: candidate (registered) -> production (promoted) -> retired (replaced; kept for rollback)
// One production version per name. Promotion compares the configured metric measured on the same
// test set (same content hash) and refuses a candidate worse than production unless forced.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actors/ml/shadow_tally.h"

namespace ebs::sqlite {
class Database;
}  // namespace ebs::sqlite

namespace ebs::ml {

enum class ModelState { candidate, production, retired };
std::string_view to_string(ModelState state);

struct ModelEntry {
  std::string name;
  int64_t version = 0;
  std::string content_hash;
  std::string format;         // json or ubj
  std::string feature_set;    // e.g. lc-basic/1, or empty for a custom column list
  std::vector<std::string> feature_names;
  std::string training_data;  // reference to what it was trained on (file, hash, query)
  nlohmann::json metrics = nlohmann::json::object();  // {"roc_auc": .., "test_set": hash, ...}
  ModelState state = ModelState::candidate;
  std::string created_at, updated_at, promoted_at;  // ISO 8601 UTC; promoted_at empty if never

  std::string reference() const { return "registry://" + name + "@" + std::to_string(version); }
};

nlohmann::json to_json(const ModelEntry& entry);

struct NewModel {
  std::string name;
  std::string bytes;
  std::string feature_set;
  std::vector<std::string> feature_names;
  std::string training_data;
  nlohmann::json metrics = nlohmann::json::object();
};

class ModelRegistry {
 public:
  // Opens (creating when absent) the registry file. A Fault naming the file on failure.
  explicit ModelRegistry(const std::string& path);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  const std::string& path() const { return path_; }

  // Adds the next version of `model.name` as a candidate. The bytes are checked by loading them
  // (a Fault for a corrupt model) and their feature names must match `feature_names` if both exist.
  ModelEntry add(const NewModel& model);
  std::optional<ModelEntry> find(const std::string& name, int64_t version) const;
  std::optional<ModelEntry> production(const std::string& name) const;
  std::optional<ModelEntry> latest(const std::string& name) const;
  std::vector<ModelEntry> list(const std::string& name = {}) const;  // by name, then version
  std::string bytes(const std::string& name, int64_t version) const;
  void set_metrics(const std::string& name, int64_t version, const nlohmann::json& metrics);

  // Makes `version` production and retires the current production version. Refused (a Fault) when
  // both have `metric` measured on the same test set and the candidate's is lower, unless `force`
  // (a rollback to a retired version, say); also refused when the comparison cannot be made.
  ModelEntry promote(const std::string& name, int64_t version, const std::string& metric, bool force);

  // Shadow scoring (table shadow_results): scorers append the tallies of what they scored since
  // their last flush; `shadow_tallies` merges them per (shadow, production) pair, for the shadow
  // models called `name` (all when empty).
  void add_shadow_tally(const ShadowTally& tally, const std::string& actor);
  std::vector<ShadowTally> shadow_tallies(const std::string& name = {}) const;

  // Retraining decisions (table retrain_runs), one JSON object each, oldest first.
  void record_retrain(const std::string& name, const nlohmann::json& decision);
  std::vector<nlohmann::json> retrain_log(const std::string& name) const;

 private:
  std::vector<ModelEntry> query(const std::string& where, const std::vector<std::string>& args) const;
  void exec(const std::string& sql) const;
  std::string path_;
  std::unique_ptr<sqlite::Database> db_;  // behind a pointer: its statements point to it
};

}  // namespace ebs::ml
