#include "engine/graph/actor_config.h"

#include <filesystem>
#include <sstream>

#include "engine/graph/actor_type.h"
#include "engine/util/byte_size.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs {

std::string place_of(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string place_of(const std::string& file, const YAML::Node& node) {
  return place_of(file, node.Mark());
}

std::string workflow_relative(const std::string& workflow_file, const std::string& path) {
  std::filesystem::path p = path;
  if (p.empty() || p.is_absolute()) return path;
  return (std::filesystem::path(workflow_file).parent_path() / p).lexically_normal().string();
}

std::string ActorConfig::input_path(const std::string& key) const { return workflow_relative(file_, string(key)); }

ActorConfig::ActorConfig(YAML::Node node, std::string file, const std::vector<ConfigKey>* schema)
    : node_(std::move(node)), file_(std::move(file)), schema_(schema) {}

YAML::Node ActorConfig::value_or_default(const std::string& key) const {
  if (node_ && node_.IsMap() && node_[key]) return node_[key];
  if (schema_) {
    for (const ConfigKey& k : *schema_)
      if (k.name == key && !k.default_value.empty()) return YAML::Load(k.default_value);
  }
  return YAML::Node();
}

bool ActorConfig::has(const std::string& key) const {
  YAML::Node v = value_or_default(key);
  return v.IsDefined() && !v.IsNull();
}

std::string ActorConfig::place(const std::string& key) const {
  if (node_ && node_.IsMap() && node_[key]) return place_of(file_, node_[key]);
  return place_of(file_, node_);
}

std::string ActorConfig::place_in(const std::string& key, size_t offset) const {
  if (!node_ || !node_.IsMap() || !node_[key] || !node_[key].IsScalar()) return place(key);
  const YAML::Node value = node_[key];
  const YAML::Mark mark = value.Mark();
  if (mark.is_null() || value.Scalar().find('\n') != std::string::npos) return place(key);
  const bool quoted = value.Tag() == "!";  // yaml-cpp tags a quoted scalar "!"
  return file_ + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1 + (quoted ? 1 : 0) + static_cast<int>(offset));
}

template <class T>
static T read_as(const YAML::Node& v, const std::string& key, const ActorConfig& config,
                 const char* what) {
  if (!v.IsDefined() || v.IsNull()) fail(config.place(key), "config key '" + key + "' is not set");
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    fail(config.place(key), "config key '" + key + "' must be " + what);
  }
}

std::string ActorConfig::string(const std::string& key) const {
  return read_as<std::string>(value_or_default(key), key, *this, "a string");
}
int64_t ActorConfig::integer(const std::string& key) const {
  return read_as<int64_t>(value_or_default(key), key, *this, "an integer");
}
double ActorConfig::number(const std::string& key) const {
  return read_as<double>(value_or_default(key), key, *this, "a number");
}
int64_t ActorConfig::bytes(const std::string& key) const {
  const YAML::Node v = value_or_default(key);
  if (!v.IsDefined() || v.IsNull()) fail(place(key), "config key '" + key + "' is not set");
  int64_t plain_unit = 1;
  if (schema_)
    for (const ConfigKey& k : *schema_)
      if (k.name == key && k.kind == ValueKind::mebibytes) plain_unit = int64_t{1} << 20;
  const ByteSize size = v.IsScalar() ? parse_byte_size(v.Scalar(), plain_unit) : parse_byte_size("", plain_unit);
  if (!size.bytes) fail(place(key), "config key '" + key + "': " + size.problem);
  return *size.bytes;
}
bool ActorConfig::boolean(const std::string& key) const {
  return read_as<bool>(value_or_default(key), key, *this, "true or false");
}
std::vector<std::string> ActorConfig::strings(const std::string& key) const {
  YAML::Node v = value_or_default(key);
  if (v.IsScalar()) return {v.as<std::string>()};
  return read_as<std::vector<std::string>>(v, key, *this, "a list of strings");
}
std::map<std::string, std::string> ActorConfig::string_map(const std::string& key) const {
  YAML::Node v = value_or_default(key);
  if (!v.IsDefined() || v.IsNull()) return {};
  return read_as<std::map<std::string, std::string>>(v, key, *this, "a map of strings");
}
YAML::Node ActorConfig::node(const std::string& key) const { return value_or_default(key); }

std::string ActorConfig::hash() const {
  std::ostringstream text;
  text << node_;
  return hex64(fnv1a64(text.str()));
}

void check_input_exists(const ActorConfig& config, const std::string& key, std::vector<Problem>& problems) {
  if (!config.has(key) || !config.node(key).IsScalar()) return;
  std::string path = config.input_path(key);
  std::error_code ec;
  if (path.empty() || path.find_first_of("*?[") != std::string::npos || std::filesystem::exists(path, ec)) return;
  problems.push_back({config.place(key), "no such file or directory: " + path +
                                             " (relative paths are relative to the workflow file)"});
}

}  // namespace ebs
