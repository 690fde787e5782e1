// The `dashboard` sink: keeps the latest alerts, sky events and coincidences it receives in a
// DashboardFeed that `ebs-flow run --http` serves to the page. Memory only: it delivers every
// record at once (nothing to make durable).
#pragma once

#include "actors/sinks/dashboard/dashboard_feed.h"
#include "engine/graph/actor_registry.h"

namespace ebs::dashboard {

ActorType dashboard_sink_type(DashboardFeed& feed);

}  // namespace ebs::dashboard

namespace ebs {

// `feed` belongs to main() and outlives the registry's use.
void register_dashboard_actors(ActorRegistry& registry, dashboard::DashboardFeed& feed);

}  // namespace ebs
