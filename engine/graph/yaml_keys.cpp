#include "engine/graph/yaml_keys.h"

#include <map>

#include "engine/graph/actor_config.h"

namespace ebs {

namespace {

// Repeated keys into `duplicates`, keys that are maps or lists into `not_names`.
void collect(const YAML::Node& node, std::vector<DuplicateKey>& duplicates, std::vector<YAML::Mark>& not_names,
             int depth) {
  if (depth > 256) return;  // yaml-cpp itself refuses deeper documents
  if (node.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& entry : node) {
      if (entry.first.IsScalar()) {
        auto [it, fresh] = seen.emplace(entry.first.Scalar(), entry.first.Mark());
        if (!fresh) duplicates.push_back({entry.first.Scalar(), it->second, entry.first.Mark()});
      } else if (entry.first.IsDefined() && !entry.first.IsNull()) {
        not_names.push_back(entry.first.Mark());
      }
      collect(entry.second, duplicates, not_names, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) collect(item, duplicates, not_names, depth + 1);
  }
}

}  // namespace

std::vector<DuplicateKey> duplicate_keys(const YAML::Node& root) {
  std::vector<DuplicateKey> out;
  std::vector<YAML::Mark> ignored;
  collect(root, out, ignored, 0);
  return out;
}

std::vector<YAML::Mark> keys_not_names(const YAML::Node& root) {
  std::vector<DuplicateKey> ignored;
  std::vector<YAML::Mark> out;
  collect(root, ignored, out, 0);
  return out;
}

std::string describe_duplicate(const std::string& file, const DuplicateKey& duplicate) {
  return "duplicate key '" + duplicate.key + "' (first at " + place_of(file, duplicate.first) +
         "): YAML would keep only the first; remove one";
}

}  // namespace ebs
