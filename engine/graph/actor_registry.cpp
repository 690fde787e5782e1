#include "engine/graph/actor_registry.h"

#include <algorithm>

#include "engine/util/edit_distance.h"
#include "engine/util/fault.h"

namespace ebs {

std::string_view to_string(ValueKind kind) {
  switch (kind) {
    case ValueKind::string: return "string";
    case ValueKind::integer: return "integer";
    case ValueKind::number: return "number";
    case ValueKind::boolean: return "boolean";
    case ValueKind::expression: return "expression";
    case ValueKind::list: return "list";
    case ValueKind::map: return "map";
    case ValueKind::any: return "any";
    case ValueKind::bytes: return "bytes";
    case ValueKind::mebibytes: return "MiB";
  }
  return "any";
}

const PortSpec* ActorType::input(const std::string& port) const {
  for (const PortSpec& p : inputs)
    if (p.name == port) return &p;
  return nullptr;
}

const PortSpec* ActorType::output(const std::string& port) const {
  for (const PortSpec& p : outputs)
    if (p.name == port) return &p;
  return nullptr;
}

void ActorRegistry::add(ActorType type) {
  if (type.name.empty()) fail("actor registry", "an actor type needs a name");
  if (!type.create) fail("actor registry", "actor type '" + type.name + "' has no factory");
  if (type.is_source() && type.input_time_scale.empty())
    fail("actor registry", "source type '" + type.name + "' must declare the time scale of its inputs");
  if (type.compute_threads > 0 && !type.blocking)
    fail("actor registry", "actor type '" + type.name + "' declares compute threads but is not blocking: "
                           "its instances would compute on the scheduler's threads");
  std::string name = type.name;
  if (!types_.emplace(name, std::move(type)).second)
    fail("actor registry", "actor type '" + name + "' is registered twice");
}

const ActorType* ActorRegistry::find(const std::string& name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

std::vector<std::string> ActorRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, type] : types_) out.push_back(name);
  return out;
}


std::vector<std::string> ActorRegistry::nearest(const std::string& name, size_t at_most) const {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& [candidate, type] : types_) {
    size_t d = edit_distance(name, candidate);
    // Prefix matches ("json" for "jsonl") count as close whatever their length.
    if (candidate.starts_with(name) || name.starts_with(candidate)) d = std::min<size_t>(d, 1);
    if (d <= std::max<size_t>(2, name.size() / 3)) scored.emplace_back(d, candidate);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < at_most; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace ebs
