// Per-instance counters: written by the instance's own actor, read by the run (progress line,
// summary, the accounting check at the end).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/latency_histogram.h"

namespace ebs {

struct ActorStats {
  explicit ActorStats(size_t output_ports) : emitted(output_ports) {}

  std::atomic<uint64_t> in{0};
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> filtered{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> dead_letters{0};  // every letter it sent: failed input records and output_dead_letters
  // Dead letters of records the actor made itself and emitted on its dead-letter port (the
  // `filters` actor's messages its users' outputs gave up on): not input records, so outside the
  // identity in = forwarded + filtered + failed (docs/filters.md, "Undelivered messages").
  std::atomic<uint64_t> output_dead_letters{0};
  std::atomic<uint64_t> batches_in{0};
  std::atomic<uint64_t> queued_batches{0};  // waiting in the instance's inbox now
  std::atomic<uint64_t> peak_queued_batches{0};
  std::vector<std::atomic<uint64_t>> emitted;  // per output port (new records)
  std::atomic<uint64_t> progress_done{0};      // finite sources: Emitter::progress
  std::atomic<uint64_t> progress_total{0};     // 0 = unknown
  // Work the actor does outside its records (the `filters` actor's outputs delivering messages,
  // from their own threads): the drain clock counts it as progress, as it counts records handled.
  std::atomic<uint64_t> side_work{0};
  // Sinks (an actor none of whose outputs is read): the end-to-end latency of every record it
  // released, from its ingest time (docs/performance.md). Empty for other actors.
  bool measures_latency = false;
  LatencyHistogram latency;
  // Read by the run once the instance has ended (no lock needed then; the instance's own
  // thread is the only writer before).
  std::map<std::string, uint64_t> dead_letter_reasons;
  std::string fault;  // why a source stopped early, when it did

  static void add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static uint64_t get(const std::atomic<uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  }
};

}  // namespace ebs
