#include "engine/runtime/latency_histogram.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace ebs;
using std::chrono::microseconds;

TEST_CASE("latency buckets are contiguous, exact below 32 us and at most 6.25 % wide above") {
  for (uint64_t us = 0; us < (uint64_t{1} << 22); us += 1 + us / 97) {
    size_t b = LatencyHistogram::bucket_of(us);
    CHECK(LatencyHistogram::upper_bound_us(b) > us);
    if (b > 0) CHECK(LatencyHistogram::upper_bound_us(b - 1) <= us);
    if (us >= 32) CHECK(LatencyHistogram::upper_bound_us(b) <= us + us / 16 + 1);
  }
  CHECK(LatencyHistogram::bucket_of(~uint64_t{0}) == LatencyHistogram::kBuckets - 1);
}

TEST_CASE("percentiles of a known distribution, against the sorted values") {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> draw(std::log(5000.0), 1.0);  // median 5 ms
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 20000; ++i) {
    auto us = static_cast<uint64_t>(draw(random));
    values.push_back(us);
    h.add(microseconds(us), 1);
  }
  std::sort(values.begin(), values.end());
  for (double f : {0.5, 0.9, 0.99}) {
    double exact = static_cast<double>(values[static_cast<size_t>(std::ceil(f * values.size())) - 1]);
    double reported = h.percentile_us(f);
    CHECK(reported >= exact);                 // never below the true value
    CHECK(reported <= exact * 1.0625 + 1);    // within one bucket
  }
  LatencySummary s = h.summary();
  CHECK(s.records == 20000);
  CHECK(s.max_ms == doctest::Approx(values.back() / 1000.0));
  CHECK(s.p99_ms <= s.max_ms);
}

TEST_CASE("records released together count as many; instances merge; threads may add at once") {
  LatencyHistogram a, b;
  a.add(microseconds(1000), 99);
  a.add(microseconds(80000), 1);
  CHECK(a.summary().records == 100);
  CHECK(a.summary().p50_ms < 1.07);
  CHECK(a.summary().p99_ms < 1.07);  // the 99th record of 100 is still at 1 ms
  CHECK(a.summary().max_ms == doctest::Approx(80));
  CHECK(a.percentile_us(1.0) == doctest::Approx(80000));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&b] {
      for (int i = 0; i < 10000; ++i) b.add(microseconds(2000), 1);
    });
  for (auto& t : threads) t.join();
  CHECK(b.records() == 40000);
  b.merge(a);
  CHECK(b.records() == 40100);
  CHECK(b.summary().max_ms == doctest::Approx(80));
  CHECK(LatencyHistogram().summary().records == 0);
  CHECK(LatencyHistogram().summary().p99_ms == 0);
}

TEST_CASE("a histogram's counts rebuild it elsewhere: the same summary, and assign replaces what was there") {
  std::mt19937_64 random(3);
  std::lognormal_distribution<double> draw(std::log(2000.0), 1.5);
  LatencyHistogram h;
  std::set<size_t> buckets_used;
  for (int i = 0; i < 5000; ++i) {
    auto us = static_cast<uint64_t>(draw(random));
    buckets_used.insert(LatencyHistogram::bucket_of(us));
    h.add(microseconds(us), 1 + i % 3);
  }
  LatencyHistogram copy;
  copy.add(microseconds(123456789), 7);  // replaced, not added to
  copy.assign(h.counts());
  const LatencySummary a = h.summary(), b = copy.summary();
  CHECK(b.records == a.records);
  CHECK(b.p50_ms == a.p50_ms);
  CHECK(b.p90_ms == a.p90_ms);
  CHECK(b.p99_ms == a.p99_ms);
  CHECK(b.max_ms == a.max_ms);
  CHECK(b.mean_ms == a.mean_ms);
  CHECK(h.counts().buckets.size() == buckets_used.size());  // sparse: only the non-empty buckets
  copy.assign({});
  CHECK(copy.summary().records == 0);
  CHECK(copy.percentile_us(0.5) == 0);
}
