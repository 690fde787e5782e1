#include <doctest/doctest.h>

#include "engine/cluster/coordinator.h"
#include "engine/graph/actor_registry.h"

using namespace ebs;
using namespace ebs::cluster;

TEST_CASE("a negative bound on held batches kept as tokens only is refused before any node is reached") {
  RunOptions options;
  options.held_tokens_bytes = -1;
  options.handle_signals = false;
  ClusterRun cluster;
  cluster.nodes.push_back({"a", "127.0.0.1", 1});  // never reached
  const RunResult result = run_on_cluster(Workflow{}, ActorRegistry{}, options, cluster);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0] == "held_tokens_bytes = -1 (what a link out keeps of held batches as their tokens only) "
                            "must be >= 0 (0: one credit byte window)");
}
