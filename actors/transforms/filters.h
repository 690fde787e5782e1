// `filters`: many users' filter expressions over one stream (docs/filters.md). Every filter is
// evaluated on each batch by one expr::ProgramSet (shared field reads, equal cuts once, sweeps
// over sorted thresholds); an alert that passes at least one filter is forwarded, the others are
// filtered out. What a forwarded alert carries is the config's `tag`: one `tag` annotation named
// "filters" whose details map each filter it passed to the version in force, e.g.
// {"bright":1,"alice/young":2} (a registry filter by OWNER/NAME; `filters`, the default with a
// `filters:` map), a "filters" tag whose value is how many it passed (`count`, the default with a
// registry, whose filters deliver their answers at their outputs), or nothing (`none`). A registry,
// or the `filters:` map (NAME: {sql: QUERY}), may also hold SQL filters (as `sql-filter` takes):
// with a `repository`, each is one query per alert, bounded by `sql_step_limit` SQLite steps, its
// answers beside the expressions' (docs/filters.md, "SQL filters").
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs::cluster {
class CoordinatorRequests;
}

namespace ebs {

// `requests`: main()'s line to a cluster run's coordinator (engine/cluster/coordinator_requests.h);
// on a node, a registry's instances agree their switch points on the coordinator's store.
void register_filters(ActorRegistry& registry, const cluster::CoordinatorRequests* requests = nullptr);

}  // namespace ebs
