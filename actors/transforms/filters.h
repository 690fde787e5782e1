// `filters`: many users' filter expressions over one stream (docs/filters.md). Every filter is
// evaluated on each batch by one expr::ProgramSet (shared field reads, equal cuts once, sweeps
// over sorted thresholds); an alert that passes at least one filter is forwarded with one `tag`
// annotation named "filters" whose details list the filters it passed and their versions,
// e.g. [{"filter":"bright","version":1}]. Alerts that pass none are filtered out.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_filters(ActorRegistry& registry);

}  // namespace ebs
