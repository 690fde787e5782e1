#include "actors/transforms/module.h"

#include "actors/common/filter_registry/filter_commands.h"
#include "actors/common/filter_registry/webhook_replay.h"
#include "actors/transforms/alert_check.h"
#include "actors/transforms/filter.h"
#include "actors/transforms/filters.h"
#include "actors/transforms/passthrough.h"
#include "actors/transforms/sql_filter.h"

namespace ebs::transforms {

void register_module(ActorRegistry& actors, CommandRegistry& commands, const cluster::CoordinatorRequests* requests) {
  register_filter(actors);
  register_filters(actors, requests);
  register_passthrough(actors);
  register_alert_check(actors);
  register_sql_filter(actors);
  filter_registry::register_filter_commands(commands);
  filter_registry::register_webhook_replay_command(commands);
}

}  // namespace ebs::transforms
