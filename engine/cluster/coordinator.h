// `ebs-flow run WF --nodes NAME=HOST:PORT,...` (or --local-cluster N): the process that runs a
// workflow on a cluster of `ebs-flow node` processes (docs/cluster.md). It places every instance,
// reaches every node (a node that does not answer, or of another version, is an error before any
// record flows), ships the workflow's text and hash, has the nodes connect to each other directly,
// starts them, follows the run and gathers every instance's books into one RunResult.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/cluster/node.h"
#include "engine/runtime/engine.h"

namespace ebs::cluster {

struct NodeAddress {
  std::string name;
  std::string host;
  uint16_t port = 0;
};

// "a=127.0.0.1:7001,b=10.0.0.2:7001"; a problem message when it is malformed.
std::vector<NodeAddress> parse_node_list(const std::string& text, std::string& problem);

struct ClusterRun {
  std::vector<NodeAddress> nodes;
  std::string text;                  // the workflow file as written (nodes build it themselves)
  std::vector<std::string> sets;     // --set overrides
  std::vector<std::string> plugins;  // --plugin
  std::string version;
  TlsFiles tls;  // the coordinator's own certificate, key and CA (docs/cluster.md "Security")
  // main()'s handlers of what the nodes' instances ask the coordinator (null: none).
  const CoordinatorRequests* requests = nullptr;
  // main()'s dashboard feed when the run serves `--http` (not owned; null: the nodes keep what
  // their `dashboard` sinks keep to themselves): the nodes ship it there.
  FeedRelay* feed = nullptr;
  // `run --dashboard-shipment-bytes`, `--dashboard-final-shipment-bytes` (not set: the workflow's
  // `defaults:`): what each node ships of its dashboard sinks to the page (feed_budgets).
  std::optional<int64_t> dashboard_shipment_bytes;
  std::optional<int64_t> dashboard_final_shipment_bytes;
};

RunResult run_on_cluster(const Workflow& workflow, const ActorRegistry& registry, const RunOptions& options,
                         const ClusterRun& cluster);

}  // namespace ebs::cluster
