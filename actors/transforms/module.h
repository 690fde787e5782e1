// The transforms family: filter, passthrough, alert-check, sql-filter.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::cluster {
class CoordinatorRequests;
}

namespace ebs::transforms {

// `requests`: main()'s line to a cluster run's coordinator (the `filters` actor's switch points).
void register_module(ActorRegistry& actors, CommandRegistry& commands,
                     const cluster::CoordinatorRequests* requests = nullptr);

}  // namespace ebs::transforms
