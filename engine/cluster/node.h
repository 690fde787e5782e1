// `ebs-flow node`: a worker process of a cluster run (docs/cluster.md). It listens for a
// coordinator, builds the workflow the coordinator ships (checked against its hash), spawns the
// instances placed on it (engine/runtime/local_graph.h) with links to the other nodes
// (engine/cluster/link.h), runs them, and reports every instance's books at the end.
#pragma once

#include <caf/all.hpp>

#include <string>

#include "engine/graph/actor_registry.h"
#include "engine/plugin/plugin_loader.h"

namespace ebs::cluster {

struct NodeOptions {
  std::string name;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (printed on stdout as a JSON line)
  size_t threads = 0;
  std::string version;  // the ebs-flow version: nodes of another version are refused at the handshake
};

// The settings every process of a cluster shares: heartbeats (a frozen peer is noticed, not only a
// dead one) and the version as the application identifier (BASP refuses a peer of another one).
void configure_cluster(caf::actor_system_config& config, const std::string& version, size_t threads);

// Runs until the coordinator has collected the run (exit 0), the coordinator is lost or the run
// failed on this node (exit 1), or SIGINT/SIGTERM before any run (exit 0).
int run_node(const NodeOptions& options, ActorRegistry& actors, PluginLoader& loader);

}  // namespace ebs::cluster
