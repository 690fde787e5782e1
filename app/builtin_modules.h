// Registers every built-in actor type into a registry (main() calls this; plugins add theirs).
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_builtin_actors(ActorRegistry& registry);

}  // namespace ebs
