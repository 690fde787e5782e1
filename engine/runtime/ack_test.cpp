#include "engine/runtime/ack.h"

#include <stdexcept>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "engine/runtime/batch.h"

using namespace ebs;

TEST_CASE("the watermark advances only over contiguous acknowledgements") {
  std::vector<uint64_t> seen;
  auto tracker = std::make_shared<AckTracker>([&](uint64_t through) { seen.push_back(through); });
  auto a = std::make_shared<const AckToken>(tracker, 10);
  auto b = std::make_shared<const AckToken>(tracker, 20);
  auto c = std::make_shared<const AckToken>(tracker, 30);
  CHECK(tracker->issued() == 3);
  CHECK(tracker->records_issued() == 60);
  b.reset();  // out of order: nothing contiguous yet
  CHECK(tracker->acknowledged_through() == 0);
  CHECK(tracker->records_acknowledged() == 20);
  a.reset();  // 1 and 2 are now done
  CHECK(tracker->acknowledged_through() == 2);
  c.reset();
  CHECK(tracker->acknowledged_through() == 3);
  CHECK(tracker->records_acknowledged() == 60);
  CHECK(seen == std::vector<uint64_t>{2, 3});
}

TEST_CASE("a token is released only when every view of its batch is gone") {
  auto tracker = std::make_shared<AckTracker>();
  std::vector<RecordPtr> records(4, std::make_shared<const DeadLetter>());
  BatchView whole = BatchView::make(PortType::dead_letter, records, {std::make_shared<const AckToken>(tracker, 4)});
  BatchView narrowed = whole.select({1, 3});
  CHECK(narrowed.size() == 2);
  CHECK(narrowed.acks().size() == 1);
  BatchView narrower = narrowed.select({1});
  CHECK(&narrower[0] == &whole[3]);
  whole = BatchView();
  narrowed = BatchView();
  CHECK(tracker->acknowledged_through() == 0);  // `narrower` still holds the batch
  narrower = BatchView();
  CHECK(tracker->acknowledged_through() == 1);
}

TEST_CASE("an abandoned token stops the watermark for good; the others still count") {
  std::vector<uint64_t> seen;
  auto tracker = std::make_shared<AckTracker>([&](uint64_t through) { seen.push_back(through); });
  auto a = std::make_shared<const AckToken>(tracker, 1);
  auto b = std::make_shared<const AckToken>(tracker, 2);
  auto c = std::make_shared<const AckToken>(tracker, 3);
  b->abandon();
  b.reset();
  a.reset();
  c.reset();
  CHECK(tracker->acknowledged_through() == 1);  // never past the abandoned sequence 2
  CHECK(tracker->first_abandoned() == 2);
  CHECK(tracker->records_acknowledged() == 4);
  CHECK(tracker->records_abandoned() == 2);
  auto d = std::make_shared<const AckToken>(tracker, 1);
  d.reset();
  CHECK(tracker->acknowledged_through() == 1);
  CHECK(seen == std::vector<uint64_t>{1});
}

TEST_CASE("after a teardown every token still held is abandoned") {
  auto scope = std::make_shared<AckScope>();
  auto tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, scope);
  auto handled = std::make_shared<const AckToken>(tracker, 5);
  auto held = std::make_shared<const AckToken>(tracker, 7);
  handled.reset();
  scope->tear_down();
  held.reset();  // e.g. a batch in the mailbox of an actor killed by the teardown
  CHECK(tracker->acknowledged_through() == 1);
  CHECK(tracker->records_acknowledged() == 5);
  CHECK(tracker->records_abandoned() == 7);
}

TEST_CASE("a torn-down scope knows at once what it abandons in all, while holders still hold") {
  auto scope = std::make_shared<AckScope>();
  auto tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, scope);
  auto handled = std::make_shared<const AckToken>(tracker, 5);
  auto held = std::make_shared<const AckToken>(tracker, 7);
  auto given_up = std::make_shared<const AckToken>(tracker, 3);
  handled.reset();
  given_up->abandon();
  given_up.reset();
  scope->tear_down();
  // A sink stuck past its time-outs still holds 7: they count all the same.
  CHECK(scope->records_unacknowledged() == 10);
  CHECK(scope->records_abandoned() == 3);
  held.reset();
  CHECK(scope->records_abandoned() == 10);
  CHECK(scope->records_unacknowledged() == 10);
}

TEST_CASE("releases racing a teardown: what the scope knows at the teardown is what it abandons in the end") {
  auto scope = std::make_shared<AckScope>();
  auto tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, scope);
  constexpr int kThreads = 4, kTokens = 20000;
  std::vector<std::vector<AckRef>> held(kThreads);
  for (auto& tokens : held)
    for (int i = 0; i < kTokens; ++i) tokens.push_back(std::make_shared<const AckToken>(tracker, 1 + i % 3));
  std::vector<std::thread> threads;
  for (auto& tokens : held)
    threads.emplace_back([&tokens] {
      for (AckRef& token : tokens) token.reset();
    });
  // Once some are released, the run is torn down while the others still go.
  while (scope->records_unacknowledged() == tracker->records_issued()) std::this_thread::yield();
  scope->tear_down();
  const uint64_t at_teardown = scope->records_unacknowledged();
  for (std::thread& t : threads) t.join();
  CHECK(scope->records_abandoned() == at_teardown);
  CHECK(tracker->records_abandoned() == at_teardown);
  CHECK(tracker->records_acknowledged() + at_teardown == tracker->records_issued());
}

TEST_CASE("a source that throws after making its tokens abandons them") {
  auto tracker = std::make_shared<AckTracker>();
  std::vector<AckRef> tokens{std::make_shared<const AckToken>(tracker, 3)};
  try {
    AbandonOnThrow guard(tokens);
    throw std::length_error("vector");
  } catch (const std::length_error&) {
  }
  tokens.clear();
  CHECK(tracker->acknowledged_through() == 0);
  CHECK(tracker->records_abandoned() == 3);
  std::vector<AckRef> fine{std::make_shared<const AckToken>(tracker, 1)};
  {
    AbandonOnThrow guard(fine);
  }
  CHECK_FALSE(fine[0]->abandoned());
}
