#include "actors/ml/model_registry.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "actors/common/sqlite/sqlite_db.h"
#include "actors/ml/light_curve_features.h"
#include "actors/ml/model_source.h"
#include "actors/ml/xgboost_model.h"
#include "engine/util/fault.h"

namespace ebs::ml {

namespace {

std::string now_utc() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(ms));
  return out;
}

ModelState parse_state(const std::string& s) {
  if (s == "production") return ModelState::production;
  if (s == "retired") return ModelState::retired;
  return ModelState::candidate;
}

constexpr const char* kColumns =
    "name, version, content_hash, format, feature_set, feature_names, training_data, metrics, state, created_at, "
    "updated_at, promoted_at";

}  // namespace

std::string_view to_string(ModelState state) {
  switch (state) {
    case ModelState::candidate: return "candidate";
    case ModelState::production: return "production";
    case ModelState::retired: return "retired";
  }
  return "candidate";
}

nlohmann::json to_json(const ModelEntry& e) {
  return {{"name", e.name},
          {"version", e.version},
          {"reference", e.reference()},
          {"state", std::string(to_string(e.state))},
          {"content_hash", e.content_hash},
          {"format", e.format},
          {"feature_set", e.feature_set},
          {"feature_names", e.feature_names},
          {"training_data", e.training_data},
          {"metrics", e.metrics},
          {"created_at", e.created_at},
          {"updated_at", e.updated_at},
          {"promoted_at", e.promoted_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.promoted_at)}};
}

ModelRegistry::ModelRegistry(const std::string& path) : path_(path) {
  try {
    // Several commands and scorers may open it at once: wait up to 5 s for another's lock.
    db_ = std::make_unique<sqlite::Database>(path, sqlite::Database::Mode::read_write, 5000);
  } catch (const Fault& f) {
    fail(path, "cannot open the model registry: " + f.message());
  }
  exec(
      "CREATE TABLE IF NOT EXISTS models ("
      " name TEXT NOT NULL, version INTEGER NOT NULL, content_hash TEXT NOT NULL, format TEXT NOT NULL,"
      " feature_set TEXT NOT NULL, feature_names TEXT NOT NULL, training_data TEXT NOT NULL,"
      " metrics TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('candidate', 'production', 'retired')),"
      " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, promoted_at TEXT NOT NULL DEFAULT '',"
      " bytes BLOB NOT NULL, PRIMARY KEY (name, version));"
      "CREATE UNIQUE INDEX IF NOT EXISTS one_production ON models(name) WHERE state = 'production';"
      "CREATE TABLE IF NOT EXISTS shadow_results (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
      " shadow_reference TEXT NOT NULL, production_reference TEXT NOT NULL, actor TEXT NOT NULL,"
      " recorded_at TEXT NOT NULL, tally TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS retrain_runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
      " recorded_at TEXT NOT NULL, decision TEXT NOT NULL);");
}

ModelRegistry::~ModelRegistry() = default;

void ModelRegistry::exec(const std::string& sql) const { db_->execute(sql); }

std::vector<ModelEntry> ModelRegistry::query(const std::string& where, const std::vector<std::string>& args) const {
  sqlite::Statement s = db_->prepare(std::string("SELECT ") + kColumns + " FROM models " + where);
  for (size_t i = 0; i < args.size(); ++i) s.bind(static_cast<int>(i + 1), args[i]);
  std::vector<ModelEntry> out;
  while (s.step()) {
    ModelEntry e;
    e.name = s.text(0);
    e.version = s.integer(1);
    e.content_hash = s.text(2);
    e.format = s.text(3);
    e.feature_set = s.text(4);
    e.feature_names = nlohmann::json::parse(s.text(5)).get<std::vector<std::string>>();
    e.training_data = s.text(6);
    e.metrics = nlohmann::json::parse(s.text(7));
    e.state = parse_state(std::string(s.text(8)));
    e.created_at = s.text(9);
    e.updated_at = s.text(10);
    e.promoted_at = s.text(11);
    out.push_back(std::move(e));
  }
  return out;
}

ModelEntry ModelRegistry::add(const NewModel& model) {
  if (model.name.empty() || model.name.find_first_of("@/ ") != std::string::npos)
    fail(path_, "model name '" + model.name + "' must be non-empty, without '@', '/' or spaces");
  const std::string origin = model.name + " (being registered)";
  std::unique_ptr<ScoringModel> loaded = load_scoring_model(model.bytes, origin);
  std::vector<std::string> names = model.feature_names;
  std::string feature_set = model.feature_set;
  if (loaded->format() == "pt") {
    // A network declares what it reads: the registry entry's input, checked by scoring one row.
    if (feature_set.empty()) feature_set = loaded->declared_inputs();
    if (feature_set.empty())
      fail(path_, "model " + model.name + " is TorchScript: give its input (--feature-set cutouts/N, lightcurve/N or a "
                  "feature set)");
    if (const FeatureSet* set = find_feature_set(feature_set); set && names.empty()) names = set->names;
    bind_declared_input(*loaded, feature_set, origin);
  } else {
    if (names.empty()) names = loaded->input_names();
    if (!loaded->input_names().empty() && loaded->input_names() != names)
      fail(path_, "model " + model.name + ": its feature_names differ from the feature set's");
    if (names.empty())
      fail(path_, "model " + model.name + " has no feature names: give a feature set or train it with names");
    if (names.size() != loaded->input_width())
      fail(path_, "model " + model.name + " has " + std::to_string(loaded->input_width()) + " features, not " +
                      std::to_string(names.size()));
  }

  exec("BEGIN IMMEDIATE");
  try {
    int64_t version = 1;
    {
      sqlite::Statement s = db_->prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?");
      s.bind(1, model.name);
      if (s.step()) version = s.integer(0);
    }
    std::string now = now_utc();
    sqlite::Statement s = db_->prepare(
        "INSERT INTO models (name, version, content_hash, format, feature_set, feature_names, training_data,"
        " metrics, state, created_at, updated_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'candidate', ?, ?, ?)");
    s.bind(1, model.name);
    s.bind(2, version);
    s.bind(3, loaded->content_hash());
    s.bind(4, loaded->format());
    s.bind(5, feature_set);
    s.bind(6, nlohmann::json(names).dump());
    s.bind(7, model.training_data);
    s.bind(8, model.metrics.dump());
    s.bind(9, now);
    s.bind(10, now);
    s.bind_blob(11, model.bytes);
    s.step();
    exec("COMMIT");
    return *find(model.name, version);
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

std::optional<ModelEntry> ModelRegistry::find(const std::string& name, int64_t version) const {
  auto r = query("WHERE name = ? AND version = ?", {name, std::to_string(version)});
  if (r.empty()) return std::nullopt;
  return r.front();
}

std::optional<ModelEntry> ModelRegistry::production(const std::string& name) const {
  auto r = query("WHERE name = ? AND state = 'production'", {name});
  if (r.empty()) return std::nullopt;
  return r.front();
}

std::optional<ModelEntry> ModelRegistry::latest(const std::string& name) const {
  auto r = query("WHERE name = ? ORDER BY version DESC LIMIT 1", {name});
  if (r.empty()) return std::nullopt;
  return r.front();
}

std::vector<ModelEntry> ModelRegistry::list(const std::string& name) const {
  if (name.empty()) return query("ORDER BY name, version", {});
  return query("WHERE name = ? ORDER BY version", {name});
}

std::string ModelRegistry::bytes(const std::string& name, int64_t version) const {
  sqlite::Statement s = db_->prepare("SELECT bytes FROM models WHERE name = ? AND version = ?");
  s.bind(1, name);
  s.bind(2, version);
  if (!s.step()) fail(path_, "no model " + name + "@" + std::to_string(version));
  return std::string(s.blob(0));
}

void ModelRegistry::set_metrics(const std::string& name, int64_t version, const nlohmann::json& metrics) {
  if (!find(name, version)) fail(path_, "no model " + name + "@" + std::to_string(version));
  sqlite::Statement s = db_->prepare("UPDATE models SET metrics = ?, updated_at = ? WHERE name = ? AND version = ?");
  s.bind(1, metrics.dump());
  s.bind(2, now_utc());
  s.bind(3, name);
  s.bind(4, version);
  s.step();
}

ModelEntry ModelRegistry::promote(const std::string& name, int64_t version, const std::string& metric, bool force) {
  auto candidate = find(name, version);
  std::string place = path_ + ":" + name + "@" + std::to_string(version);
  if (!candidate) fail(path_, "no model " + name + "@" + std::to_string(version));
  if (candidate->state == ModelState::production) return *candidate;
  auto current = production(name);
  if (current && !force) {
    const nlohmann::json& a = candidate->metrics;
    const nlohmann::json& b = current->metrics;
    auto number = [&](const nlohmann::json& m) { return m.contains(metric) && m[metric].is_number(); };
    if (!number(a) || !number(b))
      fail(place, "cannot compare with production " + current->reference() + ": " + metric +
                      " is not recorded for both (run `model eval --record` on the same test set, or --force)");
    if (a.value("test_set", "") != b.value("test_set", "") || a.value("test_set", "").empty())
      fail(place, "cannot compare with production " + current->reference() + ": their " + metric +
                      " were measured on different test sets (evaluate both on one set with --record, or --force)");
    double mine = a[metric].get<double>(), theirs = b[metric].get<double>();
    if (mine < theirs)
      fail(place, "refused: " + metric + " " + std::to_string(mine) + " is worse than production " +
                      current->reference() + "'s " + std::to_string(theirs));
  }
  std::string now = now_utc();
  exec("BEGIN IMMEDIATE");
  try {
    {
      sqlite::Statement s =
          db_->prepare("UPDATE models SET state = 'retired', updated_at = ? WHERE name = ? AND state = 'production'");
      s.bind(1, now);
      s.bind(2, name);
      s.step();
    }
    sqlite::Statement s = db_->prepare(
        "UPDATE models SET state = 'production', updated_at = ?, promoted_at = ? WHERE name = ? AND version = ?");
    s.bind(1, now);
    s.bind(2, now);
    s.bind(3, name);
    s.bind(4, version);
    s.step();
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  return *find(name, version);
}

void ModelRegistry::add_shadow_tally(const ShadowTally& tally, const std::string& actor) {
  sqlite::Statement s = db_->prepare(
      "INSERT INTO shadow_results (name, shadow_reference, production_reference, actor, recorded_at, tally)"
      " VALUES (?, ?, ?, ?, ?, ?)");
  s.bind(1, tally.name);
  s.bind(2, tally.shadow_reference);
  s.bind(3, tally.production_reference);
  s.bind(4, actor);
  s.bind(5, now_utc());
  s.bind(6, tally.to_json().dump());
  s.step();
}

std::vector<ShadowTally> ModelRegistry::shadow_tallies(const std::string& name) const {
  sqlite::Statement s = db_->prepare("SELECT tally FROM shadow_results WHERE ? = '' OR name = ? ORDER BY id");
  s.bind(1, name);
  s.bind(2, name);
  std::vector<ShadowTally> merged;
  while (s.step()) {
    ShadowTally t = ShadowTally::from_json(nlohmann::json::parse(s.text(0)));
    auto same = std::find_if(merged.begin(), merged.end(), [&](const ShadowTally& m) {
      return m.shadow_reference == t.shadow_reference && m.production_reference == t.production_reference &&
             m.threshold == t.threshold;
    });
    if (same == merged.end()) merged.push_back(std::move(t));
    else same->merge(t);
  }
  return merged;
}

void ModelRegistry::record_retrain(const std::string& name, const nlohmann::json& decision) {
  sqlite::Statement s = db_->prepare("INSERT INTO retrain_runs (name, recorded_at, decision) VALUES (?, ?, ?)");
  s.bind(1, name);
  s.bind(2, now_utc());
  s.bind(3, decision.dump());
  s.step();
}

std::vector<nlohmann::json> ModelRegistry::retrain_log(const std::string& name) const {
  sqlite::Statement s = db_->prepare("SELECT recorded_at, decision FROM retrain_runs WHERE name = ? ORDER BY id");
  s.bind(1, name);
  std::vector<nlohmann::json> out;
  while (s.step()) {
    nlohmann::json d = nlohmann::json::parse(s.text(1));
    d["recorded_at"] = s.text(0);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace ebs::ml
