// Where each instance of a workflow runs in a cluster: an actor's `placement: {nodes: [...],
// per_node: k}` puts its instances k at a time on the nodes named, in order; an actor without one
// spreads its instances over every node of the cluster, instance i on node i mod N (the implicit
// dead-letter sink on the first node). docs/cluster.md.
#pragma once

#include <string>
#include <vector>

#include "engine/graph/workflow.h"
#include "engine/runtime/local_graph.h"

namespace ebs::cluster {

// Problems with each `placement:` (its shape; a node not in `nodes`, when nodes are given), at
// their FILE:LINE:COL.
std::vector<Problem> check_placement(const Workflow& workflow, const std::vector<std::string>& nodes);

// The node of every instance of `graph`, by index. The placement must have been checked.
std::vector<std::string> place_instances(const LocalGraph& graph, const std::vector<std::string>& nodes);

}  // namespace ebs::cluster
