#include "engine/runtime/thread_budget.h"

#include <doctest/doctest.h>

#include "engine/graph/actor_registry.h"
#include "engine/runtime/actor_logic.h"

using namespace ebs;

namespace {

ActorType type(const std::string& name, bool blocking, size_t compute_threads) {
  ActorType t;
  t.name = name;
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.blocking = blocking;
  t.compute_threads = compute_threads;
  t.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
  return t;
}

ActorSpec actor(const std::string& id, const ActorType& type, size_t parallelism) {
  ActorSpec spec;
  spec.id = id;
  spec.type_name = type.name;
  spec.type = &type;
  spec.parallelism = parallelism;
  return spec;
}

}  // namespace

TEST_CASE("actors computing on their own threads take them out of --threads; the scheduler gets the rest") {
  const ActorType infer = type("infer", true, 1), reader = type("reader", true, 0), plain = type("plain", false, 0);
  Workflow workflow;
  workflow.actors = {actor("read", reader, 3), actor("score", infer, 2), actor("keep", plain, 4)};

  ThreadBudget budget = thread_budget(workflow, 4, 16);
  CHECK(budget.total == 4);
  CHECK(budget.requested);
  CHECK(budget.dedicated == 2);  // the readers wait on I/O: not counted
  CHECK(budget.scheduler == 2);
  REQUIRE(budget.dedicated_by_actor.size() == 1);
  CHECK(budget.dedicated_by_actor[0] == std::pair<std::string, size_t>{"score", 2});
  CHECK(budget.warning.empty());
  CHECK(budget.text() == "threads: 4 (--threads): 2 for the scheduler, 2 computing in score (2)");

  // Not given: the default.
  ThreadBudget cores = thread_budget(workflow, 0, 8);
  CHECK_FALSE(cores.requested);
  CHECK(cores.total == 8);
  CHECK(cores.scheduler == 6);

  // Nothing computes on its own: the scheduler has them all.
  Workflow plain_only;
  plain_only.actors = {actor("read", reader, 1), actor("keep", plain, 2)};
  CHECK(thread_budget(plain_only, 2, 8).scheduler == 2);
  CHECK(thread_budget(plain_only, 2, 8).text() == "threads: 2 (--threads): 2 for the scheduler");
}

TEST_CASE("dedicated threads that leave the scheduler none: one anyway, and a warning saying what to give") {
  const ActorType infer = type("infer", true, 1);
  Workflow workflow;
  workflow.actors = {actor("a", infer, 2), actor("b", infer, 1)};
  ThreadBudget budget = thread_budget(workflow, 3, 2);
  CHECK(budget.dedicated == 3);
  CHECK(budget.scheduler == 1);
  CHECK(budget.warning ==
        "threads: 3 computing on threads of their own (a (2), b (1)) leave the scheduler none of 3 (--threads); it "
        "gets 1 anyway, so the run uses 4: give --threads 4 or more, or lower their parallelism");
  CHECK(thread_budget(workflow, 0, 2).warning.find("of 2 (the default)") != std::string::npos);
  CHECK(thread_budget(workflow, 4, 2).warning.empty());
}

TEST_CASE("compute threads are for blocking types: the registry refuses them on a scheduler actor") {
  ActorRegistry registry;
  CHECK_THROWS_WITH(registry.add(type("busy", false, 1)),
                    doctest::Contains("declares compute threads but is not blocking"));
  registry.add(type("infer", true, 1));
  CHECK(registry.find("infer")->compute_threads == 1);
}
