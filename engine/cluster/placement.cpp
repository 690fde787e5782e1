#include "engine/cluster/placement.h"

#include <algorithm>

#include "engine/graph/actor_config.h"

namespace ebs::cluster {

namespace {

// per_node, or every instance spread evenly over the nodes named.
size_t per_node_of(const ActorSpec& spec) {
  const YAML::Node& p = spec.placement;
  const size_t named = p["nodes"].size();
  if (p["per_node"]) return p["per_node"].as<size_t>();
  return named == 0 ? 1 : (spec.parallelism + named - 1) / named;
}

}  // namespace

std::vector<Problem> check_placement(const Workflow& workflow, const std::vector<std::string>& nodes) {
  std::vector<Problem> problems;
  for (const ActorSpec& spec : workflow.actors) {
    const YAML::Node& p = spec.placement;
    if (!p || p.IsNull()) continue;
    const std::string where = place_of(spec.file, p);
    if (!p.IsMap()) {
      problems.push_back({where, "placement of actor '" + spec.id + "' must be a map: {nodes: [NAME, ...], per_node: K}"});
      continue;
    }
    for (const auto& key : p) {
      const std::string name = key.first.as<std::string>();
      if (name != "nodes" && name != "per_node")
        problems.push_back({place_of(spec.file, key.first), "unknown placement key '" + name + "' (nodes, per_node)"});
    }
    const YAML::Node list = p["nodes"];
    if (!list || !list.IsSequence() || list.size() == 0) {
      problems.push_back({list ? place_of(spec.file, list) : where,
                          "placement of actor '" + spec.id + "' needs nodes: a list of node names"});
      continue;
    }
    for (const YAML::Node& n : list) {
      if (!n.IsScalar()) {
        problems.push_back({place_of(spec.file, n), "a node name is a string"});
        continue;
      }
      const std::string name = n.as<std::string>();
      if (!nodes.empty() && std::find(nodes.begin(), nodes.end(), name) == nodes.end()) {
        std::string known;
        for (const std::string& k : nodes) known += (known.empty() ? "" : ", ") + k;
        problems.push_back({place_of(spec.file, n), "placement of actor '" + spec.id + "' names unknown node '" + name +
                                                        "' (the cluster's nodes: " + known + ")"});
      }
    }
    if (p["per_node"]) {
      const YAML::Node k = p["per_node"];
      long value = 0;
      try {
        value = k.as<long>();
      } catch (const YAML::Exception&) {
        value = 0;
      }
      if (value < 1) {
        problems.push_back({place_of(spec.file, k), "per_node is a whole number >= 1"});
        continue;
      }
      if (static_cast<size_t>(value) * list.size() < spec.parallelism)
        problems.push_back({where, "placement of actor '" + spec.id + "' holds " +
                                       std::to_string(static_cast<size_t>(value) * list.size()) +
                                       " instances (per_node x nodes) but its parallelism is " +
                                       std::to_string(spec.parallelism)});
    }
  }
  return problems;
}

std::vector<std::string> place_instances(const LocalGraph& graph, const std::vector<std::string>& nodes) {
  std::vector<std::string> placed;
  for (const GraphInstance& inst : graph.instances()) {
    const ActorSpec& spec = *inst.spec;
    if (spec.placement && spec.placement.IsMap() && spec.placement["nodes"]) {
      const YAML::Node list = spec.placement["nodes"];
      placed.push_back(list[(inst.instance / per_node_of(spec)) % list.size()].as<std::string>());
    } else {
      placed.push_back(nodes[inst.instance % nodes.size()]);
    }
  }
  return placed;
}

}  // namespace ebs::cluster
