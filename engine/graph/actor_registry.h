// The registry of actor types: one object built in main(); built-in modules and plugins add
// their types to it explicitly.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph/actor_type.h"

namespace ebs {

class ActorRegistry {
 public:
  // A Fault (failed) when the name is taken: two plugins must not silently shadow each other.
  void add(ActorType type);
  const ActorType* find(const std::string& name) const;
  std::vector<std::string> names() const;
  // Registered names closest to `name` (edit distance), best first, for "did you mean" messages.
  std::vector<std::string> nearest(const std::string& name, size_t at_most = 3) const;
  const std::map<std::string, ActorType>& types() const { return types_; }

 private:
  std::map<std::string, ActorType> types_;
};

}  // namespace ebs
