// Automatic retraining (docs/ml.md, "Shadow scoring and retraining"): a policy file names a
// registry model, where its labelled training data is (an alert repository with labels), when
// to retrain (every N new labels since the last training, and/or when the last training is older
// than an interval), the metric and the margin a candidate must beat production by.
//
// A run checks the trigger; when it fires it exports the labelled set from the repository,
// trains a candidate on the training side of a split by object, evaluates the candidate and the
// production version on the same held-back side, registers the candidate with those metrics,
// promotes it only if it beats production by the margin (production is then retired and kept for
// rollback), and records the decision with both metrics in the registry's retrain_runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/ml/labelled_set.h"
#include "actors/ml/repository_training.h"
#include "actors/ml/xgboost_model.h"

namespace ebs::ml {

struct RetrainPolicy {
  std::string file;        // the policy file (for error places)
  std::string model;       // registry name
  std::string registry;    // model registry file, relative paths resolved against the policy file
  std::string repository;  // alert repository with ml_labels, idem
  ExportOptions data;      // feature set, label source, history window
  std::vector<std::string> positive, negative;  // label classes
  int64_t trigger_new_labels = 0;   // 0: not a trigger
  double trigger_every_hours = 0;   // 0: not a trigger
  SplitBy split = SplitBy::object;
  double test_fraction = 0.25;
  std::string metric = "roc_auc";
  double min_improvement = 0.0;
  double threshold = 0.5;
  TrainParameters training;
};

// Reads and checks a policy file; a Fault at FILE:LINE:COL for unknown keys and bad values.
RetrainPolicy read_retrain_policy(const std::string& path);

struct RetrainTrigger {
  bool fire = false;
  std::string reason;
  int64_t new_labels = 0;       // since the last training
  int64_t label_watermark = 0;  // now
};

// Whether the policy's trigger fires now (always when `force` or when the model was never
// trained by a policy).
RetrainTrigger check_retrain_trigger(const RetrainPolicy& policy, bool force);

// Checks the trigger and, when it fires, trains, evaluates, registers and decides. Returns the
// decision: {"decision": "skipped" | "promoted" | "kept", "reason", "trigger", "candidate",
// "production", ...}; every run that trained is recorded in the registry.
nlohmann::json run_retrain(const RetrainPolicy& policy, bool force);

}  // namespace ebs::ml
