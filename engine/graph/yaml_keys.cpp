#include "engine/graph/yaml_keys.h"

#include <map>

#include "engine/graph/actor_config.h"

namespace ebs {

namespace {

void collect(const YAML::Node& node, KeyProblems& out, int depth) {
  if (depth > 256) return;  // yaml-cpp itself refuses deeper documents
  if (node.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& entry : node) {
      if (entry.first.IsScalar()) {
        auto [it, fresh] = seen.emplace(entry.first.Scalar(), entry.first.Mark());
        if (!fresh) out.duplicates.push_back({entry.first.Scalar(), it->second, entry.first.Mark()});
      } else if (entry.first.IsDefined() && !entry.first.IsNull()) {
        out.not_names.push_back(entry.first.Mark());
      }
      collect(entry.second, out, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) collect(item, out, depth + 1);
  }
}

}  // namespace

KeyProblems key_problems(const YAML::Node& root) {
  KeyProblems out;
  collect(root, out, 0);
  return out;
}

std::string describe_duplicate(const std::string& file, const DuplicateKey& duplicate) {
  return "duplicate key '" + duplicate.key + "' (first at " + place_of(file, duplicate.first) +
         "): YAML would keep only the first; remove one";
}

}  // namespace ebs
