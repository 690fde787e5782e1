// The built-in modules: each actor family's register_module (actors/<family>/module.h), the
// built-in counterpart of a plugin. main() calls this; plugins add theirs.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs {

void register_builtin_modules(ActorRegistry& actors, CommandRegistry& commands);

// The actor types alone (tests and benchmarks that run workflows but need no commands).
void register_builtin_actors(ActorRegistry& actors);

}  // namespace ebs
