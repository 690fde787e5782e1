// `jsonl`: writes every record as one JSON line. Records count as delivered (and their
// acknowledgements are released) only once flushed to the file; it is also the dead-letter sink.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_jsonl_sink(ActorRegistry& registry);

}  // namespace ebs
