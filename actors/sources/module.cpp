#include "actors/sources/module.h"

#include "actors/common/avro/decode_command.h"
#include "actors/common/kafka/kafka_source.h"
#include "actors/common/kafka/replay.h"
#include "actors/common/profiles/profile_set.h"
#include "actors/sources/dead_letter_replay.h"
#include "actors/sources/files/avro_files_source.h"
#include "actors/sources/kafka/kafka_tools.h"
#include "actors/sources/notices/gcn_kafka_source.h"
#include "actors/sources/notices/notice_command.h"
#include "actors/sources/notices/notice_files_source.h"
#include "actors/sources/simulator.h"

namespace ebs::sources {

void register_module(ActorRegistry& actors, CommandRegistry& commands) {
  register_simulator(actors);
  register_dead_letter_replay(actors);
  // validate, the field check and every instance of both source types copy these profiles.
  auto builtin = std::make_shared<const profiles::BuiltinProfiles>();
  register_avro_files_source(actors, builtin);
  register_kafka_source(actors, builtin);
  actors.add(notice_files_source_type());
  register_gcn_kafka_source(actors);

  kafka::register_replay_command(commands);
  kafka::register_broker_command(commands);
  kafka::register_kafka_tool_commands(commands);
  register_notice_command(commands);
  avro::register_decode_commands(commands);
}

}  // namespace ebs::sources
