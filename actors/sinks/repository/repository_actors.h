// The repository actor type:
//   `repository`  a sink storing Alerts, SkyEvents and Coincidences in an SQLite repository
//                 (writer.h), committing per batch of records or per flush interval and
//                 acknowledging only after COMMIT; its `committed` port sends on the alerts it
//                 committed (for `sql-filter`). A locked database or a full disk stops it cleanly:
//                 what was committed stays, the rest is held and never acknowledged.
//                 (`sql-filter`, actors/transforms/sql_filter.h, reads what it committed.)
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_repository_sink(ActorRegistry& registry);

}  // namespace ebs
