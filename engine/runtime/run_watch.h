// What the thread that follows a run watches while it waits for the instances to end, in one
// process (engine.cpp) as on a cluster's coordinator (engine/cluster/coordinator.cpp, from the
// books its nodes report every half second): the progress line and the drain bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/runtime/local_graph.h"

namespace ebs {

// The live line on stderr: records/s per actor, % done with an ETA when every source is finite,
// and each sink's end-to-end latency so far.
class ProgressLine {
 public:
  // `lines`: one line per second (stderr is not a terminal); else one line redrawn in place.
  explicit ProgressLine(bool lines);
  // Prints the line when a second passed since the last one. The graph may change between calls
  // (a cluster's restart builds it again): rates then start again from its counters.
  void update(const LocalGraph& graph, std::chrono::steady_clock::time_point started_at);
  // Erases a redrawn line (before other output, and at the end).
  void clear() const;

 private:
  bool lines_;
  std::chrono::steady_clock::time_point last_;
  std::vector<uint64_t> last_in_;
};

// The drain bound (workflow `defaults: {drain_timeout_s}`, `run --drain-timeout`). The drain's
// clock starts at a stop signal: a graceful stop has a bound. A run whose sources ended by
// themselves is no request to stop: a slow drain may take its time, but one that makes no progress
// for as long (a hung sink) ends the same way: its clock restarts whenever any counter moves (records
// handled, or an actor's side work: a filter output's deliveries, ActorStats::side_work).
class DrainClock {
 public:
  explicit DrainClock(double timeout_s) : timeout_s_(timeout_s) {}
  // A stop signal: the clock starts (once).
  void stop_requested();
  // Each turn of the run's loop: once every source is done (no stop requested), the clock
  // restarts whenever any instance's counters moved.
  void watch(const LocalGraph& graph, bool interrupted);
  // The bound passed (0: no bound).
  bool expired() const;

 private:
  double timeout_s_;
  std::optional<std::chrono::steady_clock::time_point> started_;
  uint64_t activity_ = 0;
};

// The drain ran out of time: in `result`, the actors still busy (those holding records, else those
// waiting for an upstream), the records taken in and not handled, and the error that ends the run.
// `instances` are the graph's, `done` as the run saw them end.
void record_drain_cut(const std::vector<GraphInstance>& instances, RunResult& result);

}  // namespace ebs
