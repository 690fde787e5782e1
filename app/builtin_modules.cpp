#include "app/builtin_modules.h"

#include "actors/coincidence/module.h"
#include "actors/crossmatch/module.h"
#include "actors/exchange/module.h"
#include "actors/followup/module.h"
#include "actors/ml/module.h"
#include "actors/sinks/module.h"
#include "actors/sources/module.h"
#include "actors/transforms/module.h"

namespace ebs {

void register_builtin_modules(ActorRegistry& actors, CommandRegistry& commands,
                              const cluster::CoordinatorRequests* requests) {
  sources::register_module(actors, commands);
  transforms::register_module(actors, commands, requests);
  sinks::register_module(actors, commands);
  ml::register_module(actors, commands);
  crossmatch::register_module(actors, commands);
  coincidence::register_module(actors, commands);
  followup::register_module(actors, commands);
  exchange::register_module(actors, commands);
}

void register_builtin_actors(ActorRegistry& actors) {
  CommandRegistry unused;
  register_builtin_modules(actors, unused);
}

}  // namespace ebs
