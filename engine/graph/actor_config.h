// An actor's `config:` block after validation: typed reads with the declared defaults applied,
// and the place (FILE:LINE:COL) of every value for errors.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ebs {

struct ConfigKey;

class ActorConfig {
 public:
  ActorConfig() = default;
  ActorConfig(YAML::Node node, std::string file, const std::vector<ConfigKey>* schema);

  bool has(const std::string& key) const;
  std::string string(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  // A size in bytes (ValueKind::bytes, or mebibytes where a number without a unit counts MiB).
  int64_t bytes(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;  // a list of scalars
  std::map<std::string, std::string> string_map(const std::string& key) const;
  // The raw YAML value (or the declared default), for structured configs.
  YAML::Node node(const std::string& key) const;
  // A path the workflow reads (input files, folders, catalogues, models, rules): relative paths
  // are relative to the workflow file's folder, whatever the shell's directory (the one rule,
  // docs/workflow-format.md#paths). Outputs are the run directory's business instead.
  std::string input_path(const std::string& key) const;
  // FILE:LINE:COL of the key's value, or of the config block when the key is absent.
  std::string place(const std::string& key) const;
  // The place of the character at `offset` in the key's value (an expression, an SQL query) when
  // the value sits on one line (a quoted value's quote counted); otherwise the value's place.
  std::string place_in(const std::string& key, size_t offset) const;
  const std::string& file() const { return file_; }
  // A stable hash of the whole config: annotations record it as provenance.
  std::string hash() const;

 private:
  YAML::Node value_or_default(const std::string& key) const;
  YAML::Node node_;
  std::string file_;
  const std::vector<ConfigKey>* schema_ = nullptr;
};

// `path` relative to the folder of `workflow_file` unless absolute (ActorConfig::input_path).
std::string workflow_relative(const std::string& workflow_file, const std::string& path);

// FILE:LINE:COL (1-based) of a YAML node.
std::string place_of(const std::string& file, const YAML::Node& node);
std::string place_of(const std::string& file, const YAML::Mark& mark);

}  // namespace ebs
