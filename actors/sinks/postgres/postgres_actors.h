// `postgres-repository`: the repository sink on a PostgreSQL server (for several nodes writing
// one repository), with the SQLite `repository` sink's tables and semantics. It commits per batch
// of records or per flush interval, in one transaction per commit, and acknowledges only after
// COMMIT. A lost connection (server restart, network) is retried: reconnect with exponential
// back-off and write the uncommitted records again; after `reconnect_attempts` the sink stops
// cleanly like the SQLite sink on a full disk: what was committed stays, the rest is held and never
// acknowledged. Its `committed` port sends on the alerts it committed.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_postgres_actors(ActorRegistry& registry);

}  // namespace ebs
