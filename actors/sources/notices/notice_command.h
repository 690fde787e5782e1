// Registration of the multi-messenger actor types (`notice-files`, `coincidence`) and commands
// (`ebs-flow notice parse FILE...`).
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs {

void register_coincidence_actors(ActorRegistry& registry);
void register_coincidence_commands(CommandRegistry& registry);

}  // namespace ebs
