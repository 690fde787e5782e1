// What a cluster run's `dashboard` sinks keep (the latest alerts, sky events, coincidences:
// actors/sinks/dashboard/dashboard_feed.h) crosses from the nodes that run them to the
// coordinator, whose `run --http` page then shows it as one process's page does (docs/cluster.md
// "Following a cluster run"). main() owns one feed per process and hands it to `node` and `run`
// as this interface, so that the engine does not depend on the dashboard.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ebs::cluster {

// One message's worth of a node's feed (feed_atom, engine/cluster/messages.h).
struct FeedPart {
  std::string state;      // JSON: the sinks' keep limits and how many records they received in all
  std::string types;      // one PortType byte per record
  std::string encodings;  // the records' Cap'n Proto encodings end to end (RecordEncoder)
};

class FeedRelay {
 public:
  virtual ~FeedRelay() = default;
  // A node: what its sinks keep now and have not shipped yet, oldest first, up to `budget_bytes`
  // of encodings (at least one record; the rest waits for the next call, or is dropped by the
  // sinks' own limits before then), in parts of at most `part_bytes` (a larger record goes
  // alone). One part without records when only the count moved; none when nothing changed.
  virtual std::vector<FeedPart> take_unshipped(size_t budget_bytes, size_t part_bytes) = 0;
  // The coordinator: a part from node `node`, kept as if that node's sinks ran here. A Fault
  // (failed) names the node when the part is damaged.
  virtual void add_part(const std::string& node, const FeedPart& part) = 0;
};

}  // namespace ebs::cluster
