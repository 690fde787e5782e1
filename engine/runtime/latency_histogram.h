// End-to-end latency of the records a sink released, as a histogram that any thread may add to
// while another reads it (the progress line, `/metrics`, the summary). Values are microseconds in
// log-linear buckets: exact below 32 µs, then 16 buckets per power of two (at most 6.25 % wide);
// a percentile reports its bucket's upper bound (never below the true value), capped at the
// largest value seen, which is exact.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

namespace ebs {

struct LatencySummary {
  uint64_t records = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
};

class LatencyHistogram {
 public:
  // 2^40 µs (12.7 days): later values count in the last bucket.
  static constexpr size_t kBuckets = 37 * 16;

  LatencyHistogram() = default;
  // A snapshot (counts read one by one while writers may add).
  LatencyHistogram(const LatencyHistogram& other) { merge(other); }
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // `records` released together `latency` after their ingest time.
  void add(std::chrono::nanoseconds latency, uint64_t records);
  // Adds every count of `other` (instances of one sink merge into one figure).
  void merge(const LatencyHistogram& other);
  LatencySummary summary() const;
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  // The value (µs) below which `fraction` (0..1] of the records fall, as described above.
  double percentile_us(double fraction) const;

  // Every count, so that another process can hold the same histogram (a cluster node reports its
  // sinks' to the coordinator): the non-empty buckets, the sum and the largest value (µs).
  struct Counts {
    std::vector<std::pair<uint32_t, uint64_t>> buckets;  // (bucket, records)
    uint64_t sum_us = 0, max_us = 0;
  };
  Counts counts() const;
  // Replaces every count by `counts` (a reader meanwhile may see a mix of the two for an instant).
  void assign(const Counts& counts);

  static size_t bucket_of(uint64_t micros);
  static uint64_t upper_bound_us(size_t bucket);  // exclusive

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> max_us_{0};
};

}  // namespace ebs
