#include "engine/runtime/node_actor.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/runtime/messages.h"

using namespace ebs;

namespace {

// Emits one letter per input record on its dead-letter port (the port after its declared output),
// holding the input batch's tokens, as the `filters` actor sends its outputs' undelivered messages
// (actors/transforms/filters.cpp, send_undelivered).
class EmitsLetters final : public ActorLogic {
 public:
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> letters;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto letter = std::make_shared<DeadLetter>();
      letter->actor = "users";
      letter->kind = "undelivered";
      letter->place = "webhook http://127.0.0.1/hook: message " + std::to_string(i);
      letter->reason = "HTTP 500";
      letters.push_back(std::move(letter));
    }
    out.filtered(batch.size());
    out.emit(1, BatchView::make(PortType::dead_letter, std::move(letters), batch.acks()));
  }
};

struct Outcome {
  std::vector<std::string> faults;  // reported to the run
  size_t letters_received = 0;      // by the subscriber of the dead-letter port, if any
  bool done = false;
  std::shared_ptr<ActorStats> stats;  // the node's books
};

// One NodeActor running EmitsLetters, given one batch of `records` records holding one token of
// `tracker` and then the end of its stream; this test's own actor is the run (faults, done), the
// upstream and, with `subscribed`, the subscriber of the dead-letter port.
Outcome run_node(bool subscribed, size_t records, const std::shared_ptr<AckTracker>& tracker) {
  caf::actor_system_config config;
  caf::actor_system system(config);
  Outcome outcome;
  ActorType type;
  type.name = "emits-letters";
  type.inputs = {{"in", PortType::any, ""}};
  type.outputs = {{"out", PortType::alert, ""}};
  {
    caf::scoped_actor self(system);
    NodeSetup setup;
    setup.context.actor_id = "users";
    setup.context.type_name = type.name;
    setup.context.type = &type;
    setup.logic = std::make_shared<EmitsLetters>();
    setup.stats = std::make_shared<ActorStats>(2);
    outcome.stats = setup.stats;
    setup.outputs.resize(2);  // "out", then the dead letters
    if (subscribed) {
      Subscriber sub;
      sub.instances.push_back({caf::actor_cast<caf::actor>(self), 0, CreditWindow(), false});
      setup.outputs[1].subscribers.push_back(std::move(sub));
    }
    setup.expected_upstreams = 1;
    setup.run = caf::actor_cast<caf::actor>(self);
    setup.index = 7;
    caf::actor node = system.spawn<NodeActor>(std::move(setup));
    {
      std::vector<RecordPtr> input;
      for (size_t i = 0; i < records; ++i) input.push_back(std::make_shared<DeadLetter>());
      auto token = std::make_shared<const AckToken>(tracker, records);
      self->send(node, msg::start_atom::value);
      self->send(node, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::dead_letter, std::move(input), {token}),
                 int64_t{0});
      self->send(node, msg::eos_atom::value);
    }
    bool timed_out = false;
    while (!outcome.done && !timed_out)
      self->receive([&](msg::done_atom, uint64_t index) { outcome.done = index == 7; },
                    [&](msg::fault_atom, uint64_t, const std::string& what, bool) { outcome.faults.push_back(what); },
                    [&](msg::credit_atom, int64_t, int64_t) {},
                    [&](msg::eos_atom) {},
                    [&](msg::data_atom, uint32_t, const BatchView& batch, int64_t) {
                      outcome.letters_received += batch.size();  // let go here: written, as a sink would
                    },
                    caf::after(std::chrono::seconds(60)) >> [&] { timed_out = true; });
    self->send_exit(node, caf::exit_reason::user_shutdown);
  }
  return outcome;
}

}  // namespace

TEST_CASE("letters emitted on a dead-letter port nobody subscribes: each reported lost, their tokens abandoned") {
  auto tracker = std::make_shared<AckTracker>();
  Outcome outcome = run_node(false, 3, tracker);
  CHECK(outcome.done);
  CHECK(outcome.letters_received == 0);
  REQUIRE(outcome.faults.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(outcome.faults[i] ==
          "dead letter lost: webhook http://127.0.0.1/hook: message " + std::to_string(i) + ": HTTP 500");
  CHECK(ActorStats::get(outcome.stats->output_dead_letters) == 3);  // counted where they leave the actor
  CHECK(ActorStats::get(outcome.stats->dead_letters) == 3);
  CHECK(tracker->records_abandoned() == 3);  // never acknowledged: a restart reads the batch again
  CHECK(tracker->records_acknowledged() == 0);
}

TEST_CASE("letters emitted on a subscribed dead-letter port are sent there, and acknowledged once let go") {
  auto tracker = std::make_shared<AckTracker>();
  Outcome outcome = run_node(true, 3, tracker);
  CHECK(outcome.done);
  CHECK(outcome.faults.empty());
  CHECK(outcome.letters_received == 3);
  CHECK(ActorStats::get(outcome.stats->output_dead_letters) == 3);
  CHECK(tracker->records_abandoned() == 0);
  CHECK(tracker->records_acknowledged() == 3);
}
