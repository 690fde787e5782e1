#include "actors/sinks/module.h"

#include "actors/sinks/count_sink.h"
#include "actors/sinks/jsonl_sink.h"
#include "actors/sinks/kafka/kafka_sink.h"
#include "actors/sinks/postgres/postgres_actors.h"
#include "actors/sinks/repository/repository_actors.h"
#include "actors/sinks/repository/repository_commands.h"
#include "actors/sinks/webhook/webhook_sink.h"

namespace ebs::sinks {

void register_module(ActorRegistry& actors, CommandRegistry& commands) {
  register_jsonl_sink(actors);
  register_count_sink(actors);
  register_repository_sink(actors);
  register_postgres_actors(actors);
  register_kafka_sink(actors);
  register_webhook_sink(actors);
  register_repository_commands(commands);
}

}  // namespace ebs::sinks
