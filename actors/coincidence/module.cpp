#include "actors/coincidence/module.h"

#include "actors/coincidence/coincidence_actor.h"
#include "actors/coincidence/skymap_command.h"

namespace ebs::coincidence {

void register_module(ActorRegistry& actors, CommandRegistry& commands) {
  actors.add(coincidence_actor_type());
  register_skymap_commands(commands);
}

}  // namespace ebs::coincidence
