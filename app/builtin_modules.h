// The built-in modules: each actor family's register_module (actors/<family>/module.h), the
// built-in counterpart of a plugin. main() calls this; plugins add theirs.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::cluster {
class CoordinatorRequests;
}

namespace ebs {

// `requests`: main()'s line to a cluster run's coordinator, for the types that ask it (`filters`).
void register_builtin_modules(ActorRegistry& actors, CommandRegistry& commands,
                              const cluster::CoordinatorRequests* requests = nullptr);

// The actor types alone (tests and benchmarks that run workflows but need no commands).
void register_builtin_actors(ActorRegistry& actors);

}  // namespace ebs
