// Alert ingestion, registered in one call each: the actor types avro-files, kafka (source) and
// kafka-sink; the commands `ebs-flow replay` and `ebs-flow broker`.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs {

void register_ingestion_actors(ActorRegistry& registry);
void register_ingestion_commands(CommandRegistry& registry);

}  // namespace ebs
