// `gcn-kafka`: GCN notices from Kafka topics as SkyEvents, on the Kafka source machinery
// (actors/common/kafka/kafka_source.h: groups or `assign`, start offsets, at-least-once commits,
// embedded broker). Each message is one notice — GCN Kafka JSON (LVK igwn.gwalert, IceCube,
// Swift, Fermi, SVOM, Einstein Probe, ...) or classic VOEvent XML — parsed by parse_notice
// (docs/notices.md). A notice that cannot be parsed is a dead letter whose place starts with
// topic/partition/offset; mock/test events are dropped unless `keep_test`, `significant: false`
// ones when `significant_only`, as in `notice-files`.
#pragma once

#include <memory>
#include <string_view>

#include "actors/common/kafka/kafka_source.h"

namespace ebs::sources {

// The decoder behind `gcn-kafka` (exposed for tests).
std::unique_ptr<KafkaMessageDecoder> make_notice_decoder(bool keep_test, bool significant_only);

void register_gcn_kafka_source(ActorRegistry& registry);

}  // namespace ebs::sources
