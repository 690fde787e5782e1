#include "actors/ml/module.h"

#include "actors/ml/ml_actors.h"
#include "actors/ml/model_commands.h"

namespace ebs::ml {

void register_module(ActorRegistry& actors, CommandRegistry& commands) {
  register_ml_actors(actors);
  register_model_commands(commands);
}

}  // namespace ebs::ml
