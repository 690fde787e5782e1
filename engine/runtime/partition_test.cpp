#include "engine/runtime/partition.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace ebs;

namespace {

RecordPtr alert(const std::string& object_id, double mjd) {
  auto core = std::make_shared<AlertCore>();
  core->object_id = object_id;
  core->mjd_tai = mjd;
  return std::make_shared<const Alert>(core);
}

}  // namespace

TEST_CASE("a key goes to the instance its FNV-1a hash names, on every machine") {
  // The hashes are FNV-1a 64 of the bytes, computed independently (Python) for these keys.
  CHECK(instance_for_key("ZTF18aaaaaaa", 4) == 11913329788976616785ull % 4);
  CHECK(instance_for_key("ZTF21abcdefg", 4) == 13095127643581793864ull % 4);
  CHECK(instance_for_key("S230518h", 4) == 4371329085096892899ull % 4);
  CHECK(instance_for_key("S230518h", 1) == 0);
}

TEST_CASE("split_by_key: every record once, all of one key at one instance, in order") {
  std::vector<RecordPtr> records;
  for (int i = 0; i < 200; ++i) records.push_back(alert("ZTF" + std::to_string(i % 37), 60000 + i));
  BatchView batch = BatchView::make(PortType::alert, records, {});
  auto parts = split_by_key(batch, 4);
  REQUIRE(parts.size() == 4);
  std::set<uint32_t> seen;
  std::map<std::string, size_t> instance_of;
  for (size_t i = 0; i < parts.size(); ++i) {
    CHECK(std::is_sorted(parts[i].begin(), parts[i].end()));
    for (uint32_t at : parts[i]) {
      CHECK(seen.insert(at).second);
      auto [it, fresh] = instance_of.emplace(std::string(batch[at].key()), i);
      CHECK(it->second == i);
    }
  }
  CHECK(seen.size() == 200);
  CHECK(instance_of.size() == 37);
  size_t used = 0;
  for (const auto& p : parts) used += !p.empty();
  CHECK(used == 4);  // 37 objects spread over all four
}

TEST_CASE("partition words map to modes") {
  CHECK(partition_mode("any") == PartitionMode::any);
  CHECK(partition_mode("") == PartitionMode::any);
  CHECK(partition_mode("broadcast") == PartitionMode::broadcast);
  CHECK(partition_mode("object_id") == PartitionMode::keyed);
  CHECK(partition_mode("event_id") == PartitionMode::keyed);
}

TEST_CASE("the stream's clock: the latest alert time of a batch, NaN for other records") {
  BatchView alerts = BatchView::make(PortType::alert, {alert("a", 60001), alert("b", NAN), alert("c", 60003), alert("d", 60002)}, {});
  CHECK(latest_record_time(alerts) == 60003);
  BatchView undated = BatchView::make(PortType::alert, {alert("a", NAN)}, {});
  CHECK(std::isnan(latest_record_time(undated)));
  auto letter = std::make_shared<DeadLetter>();
  CHECK(std::isnan(latest_record_time(BatchView::make(PortType::dead_letter, {letter}, {}))));
}

TEST_CASE("any: a local instance with credit first, a remote one only when the local ones are full") {
  const CreditLimits limits{4, 0};
  CreditWindow remote(limits), local(limits), other_local(limits);
  std::vector<AnyTarget> targets{{&remote, true}, {&local, false}, {&other_local, false}};
  // Every window whole: a local one, although the remote one comes first with as much credit.
  CHECK(instance_for_any(targets) == std::optional<size_t>(1));
  // Among the local ones, the most credit.
  local.spend(10);
  CHECK(instance_for_any(targets) == std::optional<size_t>(2));
  // The remote one has more credit than any local one, which still has some: local.
  for (int i = 0; i < 3; ++i) other_local.spend(10);
  CHECK(instance_for_any(targets) == std::optional<size_t>(1));
  // The local ones full: the remote one until half its window is in flight (its credit comes
  // back every half window consumed), then nothing until it gives credit back.
  for (int i = 0; i < 3; ++i) local.spend(10);
  other_local.spend(10);
  for (int sent = 0; sent < 2; ++sent) {
    CHECK(instance_for_any(targets) == std::optional<size_t>(0));
    remote.spend(10);
  }
  CHECK(remote.open());
  CHECK_FALSE(instance_for_any(targets).has_value());
  // A local one given credit back takes the next batch again.
  local.grant({2, 20});
  CHECK(instance_for_any(targets) == std::optional<size_t>(1));
}

TEST_CASE("any: a remote instance beside local ones gets at most half its window, and at least one batch") {
  // Odd windows round down; a window of 1 still takes its one batch (the receiver grants credit
  // back every max(1, limit / 2) batches: fewer in flight could never be granted back).
  for (const int64_t limit : {1, 2, 3, 16}) {
    CAPTURE(limit);
    CreditWindow remote({limit, 0}), local({1, 0});
    local.spend(10);
    std::vector<AnyTarget> targets{{&remote, true}, {&local, false}};
    int64_t sent = 0;
    while (instance_for_any(targets) == std::optional<size_t>(0)) {
      remote.spend(10);
      ++sent;
    }
    CHECK(sent == std::max<int64_t>(1, limit / 2));
    CreditGrant grant({limit, 0});
    std::optional<Credit> back;
    for (int64_t i = 0; i < sent; ++i) back = grant.consume(10);
    CHECK(back.has_value());
  }
}

TEST_CASE("any: without a local instance, the remote one with the most credit, its whole window") {
  const CreditLimits limits{4, 0};
  CreditWindow a(limits), b(limits);
  std::vector<AnyTarget> targets{{&a, true}, {&b, true}};
  CHECK(instance_for_any(targets) == std::optional<size_t>(0));
  a.spend(10);
  CHECK(instance_for_any(targets) == std::optional<size_t>(1));
  for (int i = 0; i < 3; ++i) a.spend(10);
  for (int i = 0; i < 3; ++i) b.spend(10);
  CHECK(instance_for_any(targets) == std::optional<size_t>(1));
  b.spend(10);
  CHECK_FALSE(instance_for_any(targets).has_value());
}
