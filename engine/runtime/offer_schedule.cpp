#include "engine/runtime/offer_schedule.h"

#include <cmath>
#include <limits>

namespace ebs {

namespace {
constexpr uint64_t kMost = std::numeric_limits<uint64_t>::max();

// A count of records as uint64_t; one past what it holds (an infinite or huge rate, a long time)
// saturates, since converting it would be undefined behaviour.
uint64_t saturating_count(double records) {
  return records < 0x1p64 ? static_cast<uint64_t>(records) : kMost;
}
}  // namespace

OfferRate OfferRate::share(size_t instance, size_t instances) const {
  OfferRate mine = *this;
  if (instances <= 1) return mine;
  mine.rate = rate / static_cast<double>(instances);
  // Burst records split as evenly as whole records allow: the first instances take the rest.
  mine.burst_records = burst_records / instances + (instance < burst_records % instances ? 1 : 0);
  return mine;
}

uint64_t OfferSchedule::due(double elapsed_s) const {
  if (!(elapsed_s > 0)) return 0;
  uint64_t n = 0;
  if (rate_.rate > 0) n = saturating_count(std::floor(rate_.rate * elapsed_s));
  if (rate_.burst_every_s > 0 && rate_.burst_records > 0) {
    const uint64_t bursts = saturating_count(std::floor(elapsed_s / rate_.burst_every_s));
    const uint64_t burst_records = bursts > kMost / rate_.burst_records ? kMost : bursts * rate_.burst_records;
    n = burst_records > kMost - n ? kMost : n + burst_records;
  }
  return n;
}

double OfferSchedule::offer_time(uint64_t n) const {
  // due() saturates at kMost: no time has more records due than that.
  if (n == kMost) return std::numeric_limits<double>::infinity();
  // due() is a non-decreasing step function: bisect for its first step above n. The upper
  // bound is where either stream alone has offered n + 1 records.
  double hi = rate_.rate > 0 ? static_cast<double>(n + 1) / rate_.rate : 0;
  if (rate_.burst_every_s > 0 && rate_.burst_records > 0) {
    double by_bursts = rate_.burst_every_s * static_cast<double>(n / rate_.burst_records + 1);
    hi = hi > 0 ? std::fmin(hi, by_bursts) : by_bursts;
  }
  // Widen by rounding: floor(rate·hi) may fall one short at an exact multiple.
  while (due(hi) <= n) hi = hi * (1 + 1e-12) + 1e-12;
  double lo = 0;
  for (int i = 0; i < 200 && hi - lo > 1e-9 * (1 + hi); ++i) {
    double mid = (lo + hi) / 2;
    if (due(mid) > n) hi = mid;
    else lo = mid;
  }
  return hi;
}

}  // namespace ebs
