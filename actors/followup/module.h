// The follow-up family: the `galaxy-targets` actor and the `followup` commands (credible-region
// MOCs, survey coverage, Gammapy exports, standard-siren H0) over sky maps and catalogues.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::followup {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::followup
