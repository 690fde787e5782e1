// Where a scorer or a command gets a model: a file path (XGBoost JSON or UBJSON, TorchScript .pt,
// an isolation forest's JSON; relative paths in
// `base_dir`) or the registry — `registry://name` (the production version) or
// `registry://name@3` (that version), `registry://name@production`, `registry://name@candidate`
// (the newest version still a candidate).
#pragma once

#include <string>
#include <vector>

#include <memory>

#include "actors/ml/scoring_model.h"

namespace ebs::ml {

struct LoadedModel {
  std::unique_ptr<ScoringModel> model;
  std::string name;         // registry name, or the file's stem
  std::string version;      // registry version; for a file its `version` attribute or "unversioned"
  std::string feature_set;  // registry feature set (may be empty)
  std::vector<std::string> feature_names;  // the model's, else the registry's
  std::string reference;    // registry://name@version, or the file path
  std::string state;        // registry state (candidate, production, retired); empty for a file
  // The input it reads (model_inputs.h): a TorchScript model's registry feature set or, for a file,
  // its `ebs_inputs` attribute (the model is bound to that layout); empty for other kinds, which
  // read the scorer's `features`.
  std::string inputs;
};

bool is_registry_reference(const std::string& reference);

// A TorchScript model reads what its registry entry declares (`registered`), else what the module
// declares: binds it to that layout (scoring one row of zeros) and returns the declaration. A
// Fault naming `origin` when there is none or the module cannot score it. Other kinds: empty.
std::string bind_declared_input(ScoringModel& model, const std::string& registered, const std::string& origin);

// A Fault naming the file or registry entry when it is missing, not production, or corrupt, or a
// TorchScript model that declares no input (or one it cannot score).
LoadedModel load_model(const std::string& reference, const std::string& registry_path, const std::string& base_dir = {});

}  // namespace ebs::ml
