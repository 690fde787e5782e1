// `avro-files`: a source reading survey alert files (ZTF/PGIR/TURBO Avro container files, Rubin
// Spark containers, Confluent-framed messages with a schema_dir or registry) from a file, a
// directory (recursively, in name order) or a glob, mapping them through survey profiles.
// `speed` replays them at alert time (1 = real time), `loop` makes a persistent test stream.
// Corrupt files and unmappable records become dead letters with the original bytes and the
// place (file path, record index).
#pragma once

#include <cstddef>
#include <memory>

#include "engine/graph/actor_registry.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace profiles {
class BuiltinProfiles;
}

// The source type sharing `builtin` with the other alert sources registered beside it (the
// built-in profiles parsed once per run); the one-argument form parses its own.
void register_avro_files_source(ActorRegistry& registry, std::shared_ptr<const profiles::BuiltinProfiles> builtin);
void register_avro_files_source(ActorRegistry& registry);

// One instance whose batches end at `batch_bytes` instead of kSourceBatchBytes (tests).
std::unique_ptr<ActorLogic> make_avro_files_source(std::size_t batch_bytes);

}  // namespace ebs
