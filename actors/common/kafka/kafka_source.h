// Kafka message sources, one machinery for every record type (librdkafka; blocking actors):
//  - topics by name or regex ("^ztf_.*"); start at earliest, latest or a time (ISO 8601 UTC or
//    milliseconds since 1970) when the group has no committed offset;
//  - every librdkafka property passes through (`properties:` or flat keys such as
//    `bootstrap.servers`, which `--set src.bootstrap.servers=...` writes);
//  - a consumer group; partitions spread over `parallelism` by the group, or by the source
//    itself with `assign: true` (no group join: no ~3 s rebalance, commits still go to the group);
//  - at least once: an offset is committed only once every sink has acknowledged every record
//    before it (one AckTracker per partition; its contiguous watermark is committed);
//  - a message that cannot be decoded is a dead letter with its bytes and place
//    topic/partition/offset;
//  - `embedded_broker: {partitions, preload}` starts librdkafka's mock cluster in the process,
//    creates the topics and publishes the preload files into them first (one file, one message;
//    Avro containers may be re-framed with `wire: confluent`): a workflow that needs no Kafka
//    server (tests, demos).
//
// What differs between sources is only how one message becomes records: a KafkaMessageDecoder.
// The `kafka` alert source (Avro container per message as ZTF sends, or Confluent frames as
// Rubin sends, mapped through survey profiles) is register_kafka_message_source with the
// alert decoder; a notice source registers its own decoder the same way:
//
//   KafkaMessageSourceSpec spec;
//   spec.name = "gcn-kafka";
//   spec.description = "GCN notices from Kafka";
//   spec.output = {"events", PortType::sky_event, "one SkyEvent per notice"};
//   spec.input_time_scale = "utc";
//   spec.config = {{"format", ValueKind::string, false, "auto", "..."}};  // beyond the Kafka keys
//   spec.check = [](const ActorConfig& c, std::vector<Problem>& problems) { ... };
//   spec.make_decoder = [](const ActorContext& context) -> std::unique_ptr<KafkaMessageDecoder> {...};
//   register_kafka_message_source(registry, std::move(spec));
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/common/ingest/message_ingester.h"
#include "engine/graph/actor_registry.h"
#include "engine/graph/actor_type.h"
#include "engine/model/record.h"

namespace ebs {

struct ActorContext;

// Turns one Kafka message into records. One decoder per source instance, called from that
// instance's thread only (need not be thread-safe).
class KafkaMessageDecoder {
 public:
  virtual ~KafkaMessageDecoder() = default;
  // Appends the records of `message` to `out` (they may point into `message`, which they keep
  // alive) and what cannot be decoded to `failures` (a Fault whose place starts with `place`,
  // which is "topic/partition/offset", plus the original bytes and their format). Every record
  // and every failure counts as one record read by the source.
  virtual void decode(const std::shared_ptr<const std::string>& message, std::string_view place,
                      std::vector<RecordPtr>& out, std::vector<ingest::IngestFailure>& failures) = 0;
  // Whether decode_view keeps the message's bytes where they are (records pointing into
  // librdkafka's buffer, `keep_alive` holding it): the source then views messages while its
  // view_budget_bytes allows, and copies them (decode) past it.
  virtual bool views_messages() const { return false; }
  // The same on bytes `keep_alive` owns; failures copy what they keep.
  virtual void decode_view(std::string_view message, const std::shared_ptr<const void>& keep_alive,
                           std::string_view place, std::vector<RecordPtr>& out,
                           std::vector<ingest::IngestFailure>& failures) {
    decode(std::make_shared<const std::string>(message), place, out, failures);
  }
};

struct KafkaMessageSourceSpec {
  std::string name;  // the actor type name
  std::string description;
  std::string version = "1.0";
  PortSpec output;                // the one output port and its record type
  std::string input_time_scale;   // of the times the decoder reads
  std::vector<ConfigKey> config;  // the decoder's keys, beyond the Kafka keys every source has
  // Extra validation of the decoder's keys (the Kafka keys are checked already); may be empty.
  std::function<void(const ActorConfig&, std::vector<Problem>&)> check;
  // Makes one instance's decoder from its config (relative paths: ActorConfig::input_path).
  std::function<std::unique_ptr<KafkaMessageDecoder>(const ActorContext&)> make_decoder;
  // The fields of the records it emits, for validate's field-name check; may be empty.
  std::function<std::vector<FieldSet>(const ActorConfig&)> emits_fields;
};

// The Kafka keys every message source has: topics, group, start, assign, stop_at_end,
// max_messages, view_budget_bytes, embedded_broker, properties and the flat librdkafka keys.
std::vector<ConfigKey> kafka_source_config_keys();

// Registers an actor type consuming Kafka with the machinery above and `spec`'s decoder.
void register_kafka_message_source(ActorRegistry& registry, KafkaMessageSourceSpec spec);

// `kafka`: survey alerts (ZTF Avro containers, Rubin Confluent frames) mapped by survey profiles;
// keys wire, schema_dir, registry, profile, profiles beside the Kafka keys. `builtin` is shared
// with the other alert sources (the built-in profiles parsed once per run).
void register_kafka_source(ActorRegistry& registry, std::shared_ptr<const profiles::BuiltinProfiles> builtin);

}  // namespace ebs
