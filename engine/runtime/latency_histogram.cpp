#include "engine/runtime/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace ebs {

size_t LatencyHistogram::bucket_of(uint64_t micros) {
  if (micros < 32) return static_cast<size_t>(micros);
  int msb = 63 - __builtin_clzll(micros);  // >= 5
  int shift = msb - 4;                      // keep the five leading bits: 16..31
  size_t bucket = static_cast<size_t>(shift) * 16 + static_cast<size_t>(micros >> shift);
  return std::min(bucket, kBuckets - 1);
}

uint64_t LatencyHistogram::upper_bound_us(size_t bucket) {
  if (bucket < 32) return bucket + 1;
  size_t shift = bucket / 16 - 1;
  uint64_t leading = bucket % 16 + 16;
  return (leading + 1) << shift;
}

void LatencyHistogram::add(std::chrono::nanoseconds latency, uint64_t records) {
  if (records == 0) return;
  uint64_t micros = latency.count() <= 0 ? 0 : static_cast<uint64_t>(latency.count() / 1000);
  counts_[bucket_of(micros)].fetch_add(records, std::memory_order_relaxed);
  records_.fetch_add(records, std::memory_order_relaxed);
  sum_us_.fetch_add(micros * records, std::memory_order_relaxed);
  uint64_t seen = max_us_.load(std::memory_order_relaxed);
  while (micros > seen && !max_us_.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
  }
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t b = 0; b < kBuckets; ++b)
    if (uint64_t n = other.counts_[b].load(std::memory_order_relaxed)) counts_[b].fetch_add(n, std::memory_order_relaxed);
  records_.fetch_add(other.records_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  sum_us_.fetch_add(other.sum_us_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  uint64_t theirs = other.max_us_.load(std::memory_order_relaxed);
  uint64_t seen = max_us_.load(std::memory_order_relaxed);
  while (theirs > seen && !max_us_.compare_exchange_weak(seen, theirs, std::memory_order_relaxed)) {
  }
}

LatencyHistogram::Counts LatencyHistogram::counts() const {
  Counts out;
  for (size_t b = 0; b < kBuckets; ++b)
    if (uint64_t n = counts_[b].load(std::memory_order_relaxed)) out.buckets.emplace_back(static_cast<uint32_t>(b), n);
  out.sum_us = sum_us_.load(std::memory_order_relaxed);
  out.max_us = max_us_.load(std::memory_order_relaxed);
  return out;
}

void LatencyHistogram::assign(const Counts& counts) {
  std::array<uint64_t, kBuckets> fresh{};
  uint64_t records = 0;
  for (const auto& [bucket, n] : counts.buckets)
    if (bucket < kBuckets) fresh[bucket] += n, records += n;
  for (size_t b = 0; b < kBuckets; ++b) counts_[b].store(fresh[b], std::memory_order_relaxed);
  records_.store(records, std::memory_order_relaxed);
  sum_us_.store(counts.sum_us, std::memory_order_relaxed);
  max_us_.store(counts.max_us, std::memory_order_relaxed);
}

double LatencyHistogram::percentile_us(double fraction) const {
  // Counts are read one by one while writers may add: the total is taken from the buckets so
  // that the walk always ends inside them.
  std::array<uint64_t, kBuckets> counts;
  uint64_t total = 0;
  for (size_t b = 0; b < kBuckets; ++b) total += counts[b] = counts_[b].load(std::memory_order_relaxed);
  if (total == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(total)));
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t seen = 0;
  const double max_us = static_cast<double>(max_us_.load(std::memory_order_relaxed));
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= rank) {
      // Bucket b holds values in [lower, upper): the exact values below 32 µs are their own.
      double value = b < 32 ? static_cast<double>(b) : static_cast<double>(upper_bound_us(b));
      return std::min(value, max_us);
    }
  }
  return max_us;
}

LatencySummary LatencyHistogram::summary() const {
  LatencySummary s;
  s.records = records_.load(std::memory_order_relaxed);
  if (s.records == 0) return s;
  s.p50_ms = percentile_us(0.50) / 1000;
  s.p90_ms = percentile_us(0.90) / 1000;
  s.p99_ms = percentile_us(0.99) / 1000;
  s.max_ms = static_cast<double>(max_us_.load(std::memory_order_relaxed)) / 1000;
  s.mean_ms = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / static_cast<double>(s.records) / 1000;
  return s;
}

}  // namespace ebs
