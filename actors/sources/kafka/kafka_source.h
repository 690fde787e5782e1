// `kafka`: a source consuming survey alerts from Kafka with librdkafka (a blocking actor).
//  - topics by name or regex ("^ztf_.*"); start at earliest, latest or a time (ISO 8601 UTC or
//    milliseconds since 1970) when the group has no committed offset;
//  - every librdkafka property passes through (`properties:` or flat keys such as
//    `bootstrap.servers`, which `--set src.bootstrap.servers=...` writes);
//  - a consumer group; partitions spread over `parallelism` by the group, or by the source
//    itself with `assign: true` (no group join: no ~3 s rebalance, commits still go to the group);
//  - wire format: Avro container per message (ZTF) or Confluent frames (Rubin: `schema_dir` or
//    `registry`), decoded and mapped through survey profiles;
//  - at least once: an offset is committed only once every sink has acknowledged every record
//    before it (one AckTracker per partition; its contiguous watermark is committed);
//  - a bad message is a dead letter with its bytes and place topic/partition/offset;
//  - `embedded_broker: {partitions, preload}` starts librdkafka's mock cluster in the process,
//    creates the topics and publishes the preload files into them first: a workflow that
//    needs no Kafka server (tests, demos).
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_kafka_source(ActorRegistry& registry);

}  // namespace ebs
