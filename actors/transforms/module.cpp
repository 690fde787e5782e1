#include "actors/transforms/module.h"

#include "actors/transforms/alert_check.h"
#include "actors/transforms/filter.h"
#include "actors/transforms/passthrough.h"
#include "actors/transforms/sql_filter.h"

namespace ebs::transforms {

void register_module(ActorRegistry& actors, CommandRegistry&) {
  register_filter(actors);
  register_passthrough(actors);
  register_alert_check(actors);
  register_sql_filter(actors);
}

}  // namespace ebs::transforms
