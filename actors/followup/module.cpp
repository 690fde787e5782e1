#include "actors/followup/module.h"

#include "actors/followup/followup_command.h"
#include "actors/followup/galaxy_targets_actor.h"

namespace ebs::followup {

void register_module(ActorRegistry& actors, CommandRegistry& commands) {
  actors.add(galaxy_targets_actor_type());
  register_followup_commands(commands);
}

}  // namespace ebs::followup
