// The ml family: the `features` and `xgboost-score` actors and the `model` commands.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::ml {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::ml
