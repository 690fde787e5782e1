// `ebs-flow run | validate | graph | actors`: the workflow commands.
#pragma once

#include "engine/cli/command_registry.h"
#include "engine/graph/actor_registry.h"
#include "engine/plugin/plugin_loader.h"
#include "engine/runtime/engine.h"
#include "engine/util/http_access.h"

namespace ebs::cluster {
class CoordinatorRequests;
class FeedRelay;
}

namespace ebs {

// What `run --http HOST:PORT` serves beside the workflow (the dashboard): built in main() and
// passed in, so the engine does not depend on it. It observes the run it serves.
class RunHttpServer : public RunObserver {
 public:
  // Starts serving in the background (the address policy is already checked); returns the port
  // bound (useful with port 0). Raises a Fault when it cannot listen.
  virtual int listen(const http_access::Address& address, const std::string& token) = 0;
  virtual void stop() = 0;
};

// The registry, loader and server belong to main(); the commands keep references to them.
// Without `http`, `run` has no --http option. `version` is what cluster nodes must share
// (`ebs-flow node`, `run --nodes`: docs/cluster.md); `requests`, what the nodes' instances ask the
// coordinator of a cluster run (engine/cluster/coordinator_requests.h); `feed`, what the `dashboard`
// sinks keep, which a cluster run's nodes ship to its coordinator's `--http` page
// (engine/cluster/feed_relay.h).
void register_workflow_commands(CommandRegistry& commands, ActorRegistry& actors, PluginLoader& plugins,
                                RunHttpServer* http = nullptr, std::string version = "0.0.0",
                                cluster::CoordinatorRequests* requests = nullptr, cluster::FeedRelay* feed = nullptr);

}  // namespace ebs
