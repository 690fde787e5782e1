// The crossmatch family: the crossmatch and classify actors and the `catalog` commands.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::crossmatch {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::crossmatch
