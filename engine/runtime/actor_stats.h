// Per-instance counters: written by the instance's own actor, read by the run (progress line,
// summary, the accounting check at the end).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace ebs {

struct ActorStats {
  explicit ActorStats(size_t output_ports) : emitted(output_ports) {}

  std::atomic<uint64_t> in{0};
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> filtered{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> batches_in{0};
  std::atomic<uint64_t> queued_batches{0};  // waiting in the instance's inbox now
  std::atomic<uint64_t> peak_queued_batches{0};
  std::vector<std::atomic<uint64_t>> emitted;  // per output port (new records)

  static void add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static uint64_t get(const std::atomic<uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  }
};

}  // namespace ebs
