#include "actors/sources/kafka/ingestion.h"

#include "actors/sinks/kafka/kafka_sink.h"
#include "actors/sources/files/avro_files_source.h"
#include "actors/sources/kafka/kafka_source.h"
#include "actors/sources/kafka/replay.h"

namespace ebs {

void register_ingestion_actors(ActorRegistry& registry) {
  register_avro_files_source(registry);
  register_kafka_source(registry);
  register_kafka_sink(registry);
}

void register_ingestion_commands(CommandRegistry& registry) {
  kafka::register_replay_command(registry);
  kafka::register_broker_command(registry);
}

}  // namespace ebs
