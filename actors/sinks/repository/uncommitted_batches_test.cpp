#include "actors/sinks/repository/uncommitted_batches.h"

#include <doctest/doctest.h>

#include "test/support/repository_test_support.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

BatchView batch_of(std::vector<RecordPtr> records, const std::shared_ptr<AckTracker>& tracker) {
  size_t n = records.size();
  return BatchView::make(PortType::any, std::move(records), {std::make_shared<const AckToken>(tracker, n)});
}

}  // namespace

TEST_CASE("released after COMMIT: alerts on, the rest delivered, dead letters left out, then acknowledged") {
  auto tracker = std::make_shared<AckTracker>();
  ebs::test::CollectingEmitter out;
  {
    UncommittedBatches batches;
    auto event = std::make_shared<SkyEvent>();
    event->event_id = "S1";
    batches.add(batch_of({make_alert(1, "a", 1, 1, 60000), event, make_alert(2, "b", 1, 1, 60000)}, tracker),
                {false, false, true});
    CHECK(batches.pending_records() == 3);
    CHECK(batches.pending_alerts() == 1);
    CHECK(batches.pending_others() == 1);
    CHECK(tracker->acknowledged_through() == 0);
    batches.release(out);
    CHECK(batches.empty());
  }
  CHECK(out.forwarded_records == 1);
  CHECK(out.delivered_records == 1);
  CHECK(tracker->acknowledged_through() == 0);  // the committed alert still travels downstream
  out.sent.clear();
  CHECK(tracker->acknowledged_through() == 1);
}

TEST_CASE("held batches are never acknowledged, not even after destruction") {
  auto tracker = std::make_shared<AckTracker>();
  {
    UncommittedBatches batches;
    batches.add(batch_of({make_alert(1, "a", 1, 1, 60000)}, tracker), {false});
    batches.hold_pending();
    batches.hold(batch_of({make_alert(2, "a", 1, 1, 60000)}, tracker));
    batches.add(batch_of({make_alert(3, "a", 1, 1, 60000)}, tracker), {false});  // pending at destruction
    CHECK(batches.held_records() == 2);
  }
  CHECK(tracker->issued() == 3);
  CHECK(tracker->records_acknowledged() == 0);
  CHECK(tracker->records_abandoned() == 3);
}
