#include "engine/runtime/partition.h"

#include <algorithm>
#include <cmath>

#include "engine/util/hash.h"

namespace ebs {

PartitionMode partition_mode(std::string_view word) {
  if (word == "broadcast") return PartitionMode::broadcast;
  if (is_partition_key(word)) return PartitionMode::keyed;
  return PartitionMode::any;
}

size_t instance_for_key(std::string_view key, size_t instances) {
  return instances <= 1 ? 0 : static_cast<size_t>(fnv1a64(key) % instances);
}

std::optional<size_t> instance_for_any(const std::vector<AnyTarget>& targets) {
  bool has_local = false;
  for (const AnyTarget& t : targets) has_local = has_local || !t.remote;
  auto may_take = [&](const AnyTarget& t) {
    if (!t.credit->open()) return false;
    if (!t.remote || !has_local) return true;
    // At most half the window in flight once this batch is sent, and at least one: the receiver
    // grants credit back every max(1, limit / 2) batches, which must stay reachable.
    const int64_t limit = t.credit->limits().batches;
    const int64_t in_flight = limit - t.credit->batches();
    return in_flight + 1 <= std::max<int64_t>(1, limit / 2);
  };
  std::optional<size_t> best;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!may_take(targets[i])) continue;
    if (!best) {
      best = i;
      continue;
    }
    const AnyTarget& b = targets[*best];
    const AnyTarget& t = targets[i];
    if (b.remote != t.remote ? b.remote : t.credit->batches() > b.credit->batches()) best = i;
  }
  return best;
}

std::vector<std::vector<uint32_t>> split_by_key(const BatchView& batch, size_t instances) {
  std::vector<std::vector<uint32_t>> parts(instances);
  for (size_t i = 0; i < batch.size(); ++i)
    parts[instance_for_key(batch[i].key(), instances)].push_back(static_cast<uint32_t>(i));
  return parts;
}

double latest_record_time(const BatchView& batch) {
  double latest = NAN;
  if (batch.type() != PortType::alert) return latest;
  for (size_t i = 0; i < batch.size(); ++i) {
    double t = static_cast<const Alert&>(batch[i]).core().mjd_tai;
    if (std::isfinite(t) && !(t <= latest)) latest = t;
  }
  return latest;
}

}  // namespace ebs
