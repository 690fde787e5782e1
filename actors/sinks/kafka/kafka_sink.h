// `kafka` sink: publishes records as JSON (the engine's record JSON, raw survey fields included
// unless with_raw: false), keyed by the record's key (an alert's object id), with an idempotent
// producer. A batch is delivered (and its acknowledgements released) only when every message of
// it has a delivery report; a message that fails delivery becomes a dead letter.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_kafka_sink(ActorRegistry& registry);

}  // namespace ebs
