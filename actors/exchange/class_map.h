// Class distributions in the ELAsTiCC taxonomy read off an alert's annotations: ours (the
// `xgboost-score` scores and the `classify` Sherlock classes, mapped by a documented table) and
// other brokers' (annotations the `classification-join` attached, and `consensus` results, which
// carry their distribution in details.classifications). One reader for the `classifications`
// actor (what we publish) and `consensus` (what it combines). docs/exchange.md has the tables.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/actor_config.h"
#include "engine/graph/actor_type.h"
#include "engine/model/record.h"

namespace ebs::exchange {

// Annotations the join attaches carry this actor_type; consensus results "consensus".
inline constexpr const char* kForeignActorType = "broker-classification";

// One classifier's distribution for one alert.
struct ClassifierOutput {
  std::string broker;          // brokerName
  std::string broker_version;
  std::string classifier;      // classifierName, including its version
  std::string params;          // classifierParams (JSON text)
  std::vector<ClassProbability> classes;
  std::optional<int64_t> ingest_timestamp_ms;  // a foreign broker's, when it said
  // "<broker>/<classifier>": what consensus weights and lists.
  std::string input_name() const { return broker + "/" + classifier; }
};

// How our annotations become ELAsTiCC distributions.
struct ClassMap {
  std::string broker_name = "ebs-flow";
  std::string broker_version;
  // Sherlock class (classify's annotation name) -> class id: the defaults of docs/exchange.md,
  // overridden per class by `sherlock_classes`.
  std::map<std::string, int32_t> sherlock;
  // Score name (xgboost-score annotation name) -> the class a binary score is the probability
  // of; 1 - p goes to Residual (200). Scores not listed are not published.
  std::map<std::string, int32_t> scores;
};

// The built-in Sherlock table.
std::map<std::string, int32_t> default_sherlock_classes();

// The ConfigKeys `broker_name`, `broker_version`, `scores`, `sherlock_classes`, and their check.
std::vector<ConfigKey> class_map_config_keys();
void check_class_map(const ActorConfig& config, std::vector<Problem>& problems);
// A Fault naming the config place on a bad class name or id.
ClassMap class_map_from(const ActorConfig& config);

// The distributions of `alert`, oldest annotation first. `from` (actor ids), when not empty,
// keeps only our annotations of those actors (foreign ones always count).
std::vector<ClassifierOutput> distributions(const Alert& alert, const ClassMap& map,
                                            const std::vector<std::string>& from = {});

// The annotation the join attaches for a foreign classification (provenance: the other
// broker's name and version; details: the whole message); `joined_by` is the join's actor id.
Annotation foreign_annotation(const Classification& c, const std::string& joined_by);

// [{classId, className, probability}, ...] in the given order.
nlohmann::json classes_json(const std::vector<ClassProbability>& classes);
// The inverse (className ignored); a Fault naming `place` on a malformed list.
std::vector<ClassProbability> classes_from_json(const nlohmann::json& list, const std::string& place);

}  // namespace ebs::exchange
