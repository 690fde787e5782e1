// The sources family, registered in one call: the actor types simulator, dead-letter-replay,
// avro-files, kafka (alerts), notice-files and gcn-kafka (GCN notices); the commands
// `ebs-flow replay`, `broker`, `decode` and `notice parse`.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"

namespace ebs::sources {

void register_module(ActorRegistry& actors, CommandRegistry& commands);

}  // namespace ebs::sources
