#include <doctest/doctest.h>

#include "engine/cluster/coordinator.h"
#include "engine/graph/actor_registry.h"

using namespace ebs;
using namespace ebs::cluster;

TEST_CASE("credit settings out of range set from code are refused before any node is reached") {
  ClusterRun cluster;
  cluster.nodes.push_back({"a", "127.0.0.1", 1});  // never reached
  auto errors_of = [&](const RunOptions& options) { return run_on_cluster(Workflow{}, ActorRegistry{}, options, cluster).errors; };
  RunOptions options;
  options.handle_signals = false;
  options.held_tokens_bytes = -1;
  CHECK(errors_of(options) == std::vector<std::string>{
                                  "'held_tokens_bytes' must be a number of bytes from 1 to 1099511627776 (1 TiB), "
                                  "default one credit byte window, not -1"});
  // A window of 0 batches never opens: the run would hang.
  options.held_tokens_bytes.reset();
  options.credit_window_batches = 0;
  CHECK(errors_of(options) == std::vector<std::string>{
                                  "'credit_window_batches' must be a whole number of batches from 1 to 65536 (default "
                                  "16), not 0"});
  options.credit_window_batches = 4;
  options.credit_window_bytes = -1;
  REQUIRE(errors_of(options).size() == 1);
  CHECK(errors_of(options)[0].starts_with("'credit_window_bytes' must be"));
}
