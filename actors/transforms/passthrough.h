// `passthrough`: forwards every batch unchanged. The engine's per-hop cost, measured by
// bench/engine, and a tap point in a graph.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_passthrough(ActorRegistry& registry);

}  // namespace ebs
