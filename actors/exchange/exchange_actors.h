// The exchange family's actor types (docs/exchange.md): classifications between brokers and
// events to the community.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs::exchange {

void register_classifications(ActorRegistry& registry);
void register_consensus(ActorRegistry& registry);
void register_classification_source(ActorRegistry& registry);
void register_classification_join(ActorRegistry& registry);

}  // namespace ebs::exchange
