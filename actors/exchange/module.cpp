#include "actors/exchange/module.h"

#include "actors/exchange/exchange_actors.h"

namespace ebs::exchange {

void register_module(ActorRegistry& actors, CommandRegistry&) {
  register_classifications(actors);
  register_consensus(actors);
  register_classification_source(actors);
  register_classification_join(actors);
}

}  // namespace ebs::exchange
