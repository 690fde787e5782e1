#include "actors/builtin.h"

#include "actors/coincidence/coincidence_registry.h"
#include "actors/crossmatch/crossmatch_actors.h"
#include "actors/followup/galaxy_targets_actor.h"
#include "actors/ml/ml_actors.h"
#include "actors/sinks/count_sink.h"
#include "actors/sinks/jsonl_sink.h"
#include "actors/sinks/postgres/postgres_actors.h"
#include "actors/sinks/repository/repository_actors.h"
#include "actors/sources/dead_letter_replay.h"
#include "actors/sources/kafka/ingestion.h"
#include "actors/sources/simulator.h"
#include "actors/transforms/alert_check.h"
#include "actors/transforms/filter.h"
#include "actors/transforms/passthrough.h"

namespace ebs {

void register_builtin_actors(ActorRegistry& registry) {
  register_simulator(registry);
  register_dead_letter_replay(registry);
  register_filter(registry);
  register_passthrough(registry);
  register_alert_check(registry);
  register_jsonl_sink(registry);
  register_count_sink(registry);
  register_repository_actors(registry);
  register_postgres_actors(registry);
  register_ml_actors(registry);
  register_ingestion_actors(registry);
  register_coincidence_actors(registry);
  register_crossmatch_actors(registry);
  registry.add(followup::galaxy_targets_actor_type());
}

}  // namespace ebs
