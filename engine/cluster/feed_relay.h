// What a cluster run's `dashboard` sinks keep (the latest alerts, sky events, coincidences:
// actors/sinks/dashboard/dashboard_feed.h) crosses from the nodes that run them to the
// coordinator, whose `run --http` page then shows it as one process's page does (docs/cluster.md
// "Following a cluster run"). main() owns one feed per process and hands it to `node` and `run`
// as this interface, so that the engine does not depend on the dashboard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ebs::cluster {

// One message's worth of a node's feed (feed_atom, engine/cluster/messages.h).
struct FeedPart {
  std::string state;      // JSON: the attempt's epoch, the sinks' keep limits, the records they received
                          // and those not shipped, in all
  std::string types;      // one PortType byte per record
  std::string encodings;  // the records' Cap'n Proto encodings end to end (RecordEncoder)
};

// What one call of FeedRelay::ship_unshipped sent and skipped.
struct FeedShipment {
  size_t parts = 0;    // parts handed to `send`
  size_t records = 0;  // kept records in them
  size_t bytes = 0;    // their encodings
  size_t skipped = 0;  // kept records not shipped yet that did not fit the budget: never shipped
};

class FeedRelay {
 public:
  virtual ~FeedRelay() = default;
  // A node: what its sinks keep now and have not shipped yet, newest first: sky events, then
  // coincidences, then alerts, each kind from its newest back, up to `budget_bytes` of encodings
  // (at least one record), so that what the coordinator's page shows is at most one shipment
  // behind whatever the rate. The older alerts and coincidences over the budget are skipped for
  // good (counted, and the count shipped: the coordinator's `records_not_shipped`): shipped later
  // they would come after newer records and be kept or dropped out of turn. Sky events over it
  // wait for the next shipments instead (the coordinator replaces an event by id; one larger than
  // the budget goes alone, first in a shipment). What goes is handed to `send` in the order it
  // came (so that the coordinator replaces and drops as this feed did), in parts of at most
  // `part_bytes` (a larger record goes alone); the encodings going are held once (the budget).
  // One part without records when only a count moved; none when nothing changed. Called from one
  // thread, as begin_attempt.
  virtual FeedShipment ship_unshipped(size_t budget_bytes, size_t part_bytes,
                                      const std::function<void(FeedPart&&)>& send) = 0;
  // A restart (on_node_loss: restart) began attempt `epoch` (kFirstEpoch, 1, before any): on a
  // node, what the earlier attempt's sinks kept is dropped (called once they ended) and the parts
  // carry the new epoch; on the coordinator, what the nodes shipped from earlier attempts is
  // dropped, and so are the parts of earlier attempts that still arrive.
  virtual void begin_attempt(uint64_t epoch) = 0;
  // The coordinator: a part from node `node`, kept as if that node's sinks ran here. A Fault
  // (failed) names the node when the part is damaged.
  virtual void add_part(const std::string& node, const FeedPart& part) = 0;
};

}  // namespace ebs::cluster
