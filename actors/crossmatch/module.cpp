#include "actors/crossmatch/module.h"

#include "actors/crossmatch/catalog_command.h"
#include "actors/crossmatch/crossmatch_actors.h"

namespace ebs::crossmatch {

void register_module(ActorRegistry& actors, CommandRegistry& commands) {
  register_crossmatch_actors(actors);
  register_catalog_commands(commands);
}

}  // namespace ebs::crossmatch
