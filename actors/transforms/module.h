// The transforms family: filter, passthrough, alert-check, sql-filter.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::transforms {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::transforms
