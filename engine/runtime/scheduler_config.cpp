#include "engine/runtime/scheduler_config.h"

namespace ebs {

void configure_scheduler(caf::actor_system_config& config, size_t threads) {
  if (threads > 0) config.set("scheduler.max-threads", threads);
  config.set("work-stealing.moderate-poll-attempts", size_t{0});
}

}  // namespace ebs
