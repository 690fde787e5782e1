#include <doctest/doctest.h>

#include "engine/cluster/coordinator.h"
#include "engine/cluster/placement.h"

using namespace ebs;
using namespace ebs::cluster;

TEST_CASE("--nodes lists NAME=HOST:PORT") {
  std::string problem;
  auto nodes = parse_node_list("a=127.0.0.1:7001,b=[::1]:7002", problem);
  CHECK(problem.empty());
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].name == "a");
  CHECK(nodes[0].host == "127.0.0.1");
  CHECK(nodes[0].port == 7001);
  CHECK(nodes[1].host == "[::1]");
  parse_node_list("a=127.0.0.1", problem);
  CHECK(problem.find("NAME=HOST:PORT") != std::string::npos);
  problem.clear();
  parse_node_list("a=h:1,a=h:2", problem);
  CHECK(problem.find("named twice") != std::string::npos);
  problem.clear();
  parse_node_list("a=h:99999", problem);
  CHECK(problem.find("no valid port") != std::string::npos);
}

namespace {
Workflow workflow_with_placement(const std::string& yaml, size_t parallelism) {
  Workflow w;
  w.file = "wf.yaml";
  ActorSpec spec;
  spec.id = "xm";
  spec.file = "wf.yaml";
  spec.parallelism = parallelism;
  spec.placement = YAML::Load(yaml);
  w.actors.push_back(spec);
  return w;
}
}  // namespace

TEST_CASE("a placement is checked at its place: shape, unknown nodes, room for every instance") {
  CHECK(check_placement(workflow_with_placement("{nodes: [a, b], per_node: 2}", 4), {"a", "b"}).empty());
  auto unknown = check_placement(workflow_with_placement("{nodes: [a,\n c]}", 2), {"a", "b"});
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].place == "wf.yaml:2:2");
  CHECK(unknown[0].message.find("unknown node 'c'") != std::string::npos);
  CHECK(check_placement(workflow_with_placement("[a, b]", 1), {}).size() == 1);
  CHECK(check_placement(workflow_with_placement("{nodes: [a], per_node: 0}", 1), {}).size() == 1);
  CHECK(check_placement(workflow_with_placement("{nodes: [a], per_node: 1}", 2), {}).size() == 1);
  CHECK(check_placement(workflow_with_placement("{nodes: [a], where: b}", 1), {}).size() == 1);
}
