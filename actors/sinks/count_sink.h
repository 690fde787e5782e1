// `count`: counts records (and checks an expected count). For benchmarks, smoke tests and
// workflows whose only output is the run summary.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_count_sink(ActorRegistry& registry);

}  // namespace ebs
