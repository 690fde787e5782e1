// The coincidence family: the `coincidence` actor (GW x GRB/neutrino pairs and their joint
// significance) and the `skymap` commands. GCN notices enter through actors/sources/notices.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::coincidence {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::coincidence
