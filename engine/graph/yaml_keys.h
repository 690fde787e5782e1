// Duplicate keys in a YAML map: yaml-cpp keeps both and every lookup finds the first, so a second
// `batch_size:` or `config:` would be silently ignored. Workflow and catalogue files refuse them,
// naming both places.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace ebs {

struct DuplicateKey {
  std::string key;
  YAML::Mark first, second;
};

struct KeyProblems {
  // Every repeated key of every map in `root` (recursively), in document order.
  std::vector<DuplicateKey> duplicates;
  // Where a key is a map or a list (`{a: 1}: x`): never a name in our files, and yaml-cpp throws
  // a conversion error (not a Fault) when such a key is read as text.
  std::vector<YAML::Mark> not_names;
};

// One walk of `root` for both kinds.
KeyProblems key_problems(const YAML::Node& root);

// "duplicate key 'k' (first at FILE:L:C): ..." for the second place.
std::string describe_duplicate(const std::string& file, const DuplicateKey& duplicate);

}  // namespace ebs
