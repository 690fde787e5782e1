// `dead-letters`: replays a dead-letter file into a workflow once the cause is fixed. Letters
// whose original is an alert (JSON) come back as alerts; letters holding raw survey bytes (e.g.
// a corrupt Avro message) are sent back through their source with `ebs-flow replay` instead, and
// fail here again with that advice.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_dead_letter_replay(ActorRegistry& registry);

}  // namespace ebs
