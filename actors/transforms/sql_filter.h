// `sql-filter`: a Lasair-style SQL condition over the committed repository, e.g.
//   SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 3
// (alert fields as bound parameters); passes the alerts for which it returns a row. It reads the
// repository (actors/common/repository) that a `repository` sink commits to.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_sql_filter(ActorRegistry& registry);

}  // namespace ebs
