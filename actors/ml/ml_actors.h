// The ML actor types (docs/ml.md):
//   features       (in: Alert -> out: Alert)  appends a `tag` annotation named after the feature
//                  set (e.g. lc-basic/1) whose details are the feature vector as a JSON object
//   xgboost-score  (in: Alert -> out: Alert)  computes the features itself (the same extractor)
//                  and appends one `score` annotation per model
//   torch-score    (in: Alert -> out: Alert)  the same for TorchScript networks (cutouts, light
//                  curves or features; XGBoost models beside them), on detached threads
//   anomaly        (in: Alert -> out: Alert)  the same for isolation forests: anomaly scores
// All three share one scoring path: inputs encoded once per distinct input, shadow tallies.
// The scorer does not read the `features` annotation: recomputing is cheaper than parsing JSON,
// so `features` is optional in a graph (for inspection, sinks and training-set exports).
#pragma once

#include <string>
#include <vector>

#include "actors/ml/light_curve_features.h"
#include "actors/ml/model_source.h"
#include "engine/graph/actor_config.h"
#include "engine/graph/actor_registry.h"

namespace ebs::ml {

// One entry of a scorer's `models:` list.
struct ScorerModelSpec {
  std::string reference;  // file path or registry://name[@version]
  std::string name;       // the score's name; empty = the model's name (NAME.shadow for a shadow)
  std::string place;      // FILE:LINE:COL of the entry
  bool shadow = false;    // scored beside production, annotated as a shadow, tallied against it
  std::string against;    // a shadow's production entry (its score name); empty = see shadow_partners
};

// The score name of each entry once its model is loaded: `name`, else the model's name, with
// ".shadow" appended for a shadow entry, so that filters reading score.NAME see production.
std::string score_name(const ScorerModelSpec& spec, const LoadedModel& model);

// For each entry, the index of the production entry a shadow runs beside (-1 for production
// entries): `against` when given, else the first production entry of the same model name, else
// the first production entry. A Fault at the entry's place when there is none.
std::vector<long> shadow_partners(const std::vector<ScorerModelSpec>& specs, const std::vector<LoadedModel>& models);

// Reads `models:` (a reference, or a list of references or {model, name, shadow, against} maps). A Fault with
// the place of the bad entry.
std::vector<ScorerModelSpec> scorer_models(const ActorConfig& config);

// Why `model` cannot score `set`'s vectors, or empty when it can.
std::string feature_mismatch(const LoadedModel& model, const FeatureSet& set);

// Why an alert cannot be featurised at all (dead letter), or empty.
std::string unscorable_reason(const AlertCore& alert);

void register_ml_actors(ActorRegistry& registry);

}  // namespace ebs::ml

namespace ebs {
using ml::register_ml_actors;
}  // namespace ebs
