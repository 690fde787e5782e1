// Where a scorer or a command gets a model: a file path (JSON or UBJSON, relative paths in
// `base_dir`) or the registry — `registry://name` (the production version) or
// `registry://name@3` (that version), `registry://name@production`, `registry://name@candidate`
// (the newest version still a candidate).
#pragma once

#include <string>
#include <vector>

#include "actors/ml/xgboost_model.h"

namespace ebs::ml {

struct LoadedModel {
  XgboostModel model;
  std::string name;         // registry name, or the file's stem
  std::string version;      // registry version; for a file its `version` attribute or "unversioned"
  std::string feature_set;  // registry feature set (may be empty)
  std::vector<std::string> feature_names;  // the model's, else the registry's
  std::string reference;    // registry://name@version, or the file path
  std::string state;        // registry state (candidate, production, retired); empty for a file
};

bool is_registry_reference(const std::string& reference);

// A Fault naming the file or registry entry when it is missing, not production, or corrupt.
LoadedModel load_model(const std::string& reference, const std::string& registry_path, const std::string& base_dir = {});

}  // namespace ebs::ml
