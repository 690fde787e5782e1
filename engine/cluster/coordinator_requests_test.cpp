// The coordinator's request server fences as the links do ("Failures", docs/cluster.md): a node
// declared lost, and an attempt torn down by a restart, are refused. The node's side asks through
// a real CAF request, as an instance on a node does; here both sides share one actor system, so
// the node fenced is this process's own.
#include "engine/cluster/coordinator_requests.h"

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <chrono>
#include <thread>

#include "engine/cluster/messages.h"
#include "engine/graph/workflow.h"
#include "engine/util/fault.h"

using namespace ebs;
using namespace ebs::cluster;

TEST_CASE("the coordinator's request server refuses a torn-down attempt and a node declared lost") {
  CoordinatorRequests requests;
  requests.serve("echo", [](const Workflow&, const std::string& run, uint64_t attempt, const std::string& request) {
    return request + " in " + run.substr(run.find("/attempt")) + " (" + std::to_string(attempt) + ")";
  });
  Workflow workflow;
  caf::actor_system_config config;
  caf::actor_system system(config);
  caf::actor server = requests.spawn_server(system, workflow);
  requests.attach(system, server, "node2", kFirstEpoch);
  CHECK(requests.attempt() == kFirstEpoch);
  CHECK(requests.ask("echo", "hi") == "hi in /attempt 1 (1)");
  {
    caf::scoped_actor coordinator(system);
    // A restart: what the torn-down attempt still asks is refused; the next attempt's requests are served.
    CoordinatorRequests::begin_attempt(*coordinator, server, 2);
    CHECK_THROWS_WITH_AS(requests.ask("echo", "late"), doctest::Contains("a request of attempt 1, the run is at attempt 2"),
                         Fault);
    requests.set_attempt(2);
    CHECK(requests.attempt() == 2);
    CHECK(requests.ask("echo", "again") == "again in /attempt 2 (2)");
    // Fencing comes from the coordinator's process only: an anonymous message (as a remote
    // node's could be) changes nothing.
    caf::anon_send(server, fence_atom::value, system.node());
    CHECK(requests.ask("echo", "still") == "still in /attempt 2 (2)");
    // A node declared lost: every request of its process is refused, whatever its attempt.
    CoordinatorRequests::fence_node(*coordinator, server, system.node());
    CHECK_THROWS_WITH_AS(requests.ask("echo", "back"), doctest::Contains("declared this node lost"), Fault);
  }
  requests.detach();
  CHECK(requests.attempt() == 0);
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
}

TEST_CASE("a request to a coordinator lost while it waits fails at once, not after the time-out") {
  // A server that takes requests and never answers (a coordinator gone with the request on the
  // way: CAF 0.17 drops it without an error), ended 0.3 s after the request: the asker monitors it.
  caf::actor_system_config config;
  caf::actor_system system(config);
  // One argument given: CAF 0.17.6's factory of function actors binds a reference to a null
  // argument tuple for a function of none (UBSan: "reference binding to null pointer").
  caf::actor silent = system.spawn(
      [](int) -> caf::behavior { return {[](service_atom, const std::string&, uint64_t, const std::string&) {}}; }, 0);
  CoordinatorRequests requests;
  requests.attach(system, silent, "node2", kFirstEpoch);
  std::thread ender([silent] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
  });
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(requests.ask("filters", "claim"), doctest::Contains("the coordinator was lost"), Fault);
  const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ender.join();
  MESSAGE("the request failed " << waited_s << " s after it was sent (the time-out is 10 s)");
  CHECK(waited_s < 5);  // 0.3 s and the scheduling of a loaded machine; the time-out would be 10 s
  // Asked again once it is gone: at once as well.
  CHECK_THROWS_WITH_AS(requests.ask("filters", "claim"), doctest::Contains("the coordinator was lost"), Fault);
  requests.detach();
}
