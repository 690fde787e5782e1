// The repository actor types:
//   `repository`  a sink storing Alerts, SkyEvents and Coincidences in an SQLite repository
//                 (writer.h), committing per batch of records or per flush interval and
//                 acknowledging only after COMMIT; its `committed` port sends on the alerts it
//                 committed (for `sql-filter`). A locked database or a full disk stops it cleanly:
//                 what was committed stays, the rest is held and never acknowledged.
//   `sql-filter`  a Lasair-style SQL condition over the committed repository, e.g.
//                 SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 3
//                 (alert fields as bound parameters); passes the alerts for which it returns a row.
//   `webhook`     (actors/sinks/webhook) registered here too: the sinks that deliver what the
//                 repository selects.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_repository_actors(ActorRegistry& registry);  // the two below and `webhook`
void register_repository_sink(ActorRegistry& registry);
void register_sql_filter(ActorRegistry& registry);

}  // namespace ebs
