// The exchange family: classifications exchanged with other brokers (ELAsTiCC brokerClassification)
// and events to the community (docs/exchange.md).
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::exchange {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::exchange
