// What a cluster run's `dashboard` sinks keep (the latest alerts, sky events, coincidences:
// actors/sinks/dashboard/dashboard_feed.h) crosses from the nodes that run them to the
// coordinator, whose `run --http` page then shows it as one process's page does (docs/cluster.md
// "Following a cluster run"). main() owns one feed per process and hands it to `node` and `run`
// as this interface, so that the engine does not depend on the dashboard.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace ebs::cluster {

// One message's worth of a node's feed (feed_atom, engine/cluster/messages.h).
struct FeedPart {
  std::string state;      // JSON: the sinks' keep limits and how many records they received in all
  std::string types;      // one PortType byte per record
  std::string encodings;  // the records' Cap'n Proto encodings end to end (RecordEncoder)
};

// What one call of FeedRelay::ship_unshipped sent and left.
struct FeedShipment {
  size_t parts = 0;    // parts handed to `send`
  size_t records = 0;  // kept records in them
  size_t bytes = 0;    // their encodings
  size_t left = 0;     // kept records over the budget: not shipped yet, or (keep_newest) never
};

class FeedRelay {
 public:
  virtual ~FeedRelay() = default;
  // A node: what its sinks keep now and have not shipped yet, in the order they came, up to
  // `budget_bytes` of encodings (at least one record), handed to `send` one part of at most
  // `part_bytes` at a time (a larger record goes alone) as it is encoded: no more than one part is
  // held. What is over the budget: with `keep_newest` false (the shipments during the run), the
  // newest wait for the next call (or are dropped by the sinks' own limits before then, never
  // shipped); with `keep_newest` (the last shipment) the oldest are left out for good, so that the
  // newest are the ones that go. One part without records when only the count moved; none when
  // nothing changed.
  virtual FeedShipment ship_unshipped(size_t budget_bytes, size_t part_bytes, bool keep_newest,
                                      const std::function<void(FeedPart&&)>& send) = 0;
  // The coordinator: a part from node `node`, kept as if that node's sinks ran here. A Fault
  // (failed) names the node when the part is damaged.
  virtual void add_part(const std::string& node, const FeedPart& part) = 0;
};

}  // namespace ebs::cluster
