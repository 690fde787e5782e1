#include "actors/common/kafka/pin_budget.h"

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>

#include <chrono>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actors/common/kafka/kafka_client.h"
#include "test/support/sanitized_heap.h"

namespace ebs::kafka {

TEST_CASE("a pin budget bounds the bytes of the buffers its messages may lie in") {
  constexpr size_t window = size_t{1} << 20;
  PinBudget budget(8 * window, window, 0);
  // Two "fetch responses", each a buffer of the window's size, holding messages of 64 KiB.
  auto first = std::make_unique<char[]>(window), second = std::make_unique<char[]>(window);
  std::vector<PinBudget::Pin> pins;
  for (size_t at = 0; at + 65536 <= window; at += 65536) {
    auto pin = budget.try_pin(first.get() + at, 65536);
    REQUIRE(pin);
    pins.push_back(*pin);
    // Whatever message of the buffer is pinned, the bound covers the whole buffer.
    CHECK(budget.pinned_bytes() >= window);
  }
  // Sixteen messages of one response count at most 3.25 windows (it and a window either side,
  // in whole blocks, wherever the buffer lies), not sixteen times 2.25.
  CHECK(budget.pinned_bytes() <= 13 * budget.block_bytes());
  auto other = budget.try_pin(second.get(), 65536);
  REQUIRE(other);
  CHECK(budget.pinned_bytes() <= 6 * window);
  budget.release(*other);
  for (const PinBudget::Pin& pin : pins) budget.release(pin);
  CHECK(budget.pinned_bytes() == 0);
  CHECK(budget.counters().at("messages_viewed") == 17);
  CHECK(budget.counters().at("messages_copied") == 0);
  CHECK(budget.counters().at("peak_pinned_bytes") >= window);
}

TEST_CASE("past its budget a message is not pinned: the source copies it") {
  constexpr size_t window = size_t{1} << 20;
  PinBudget budget(3 * window, window, 0);
  std::vector<std::unique_ptr<char[]>> buffers;
  size_t pinned = 0, refused = 0;
  for (int i = 0; i < 10; ++i) {
    buffers.push_back(std::make_unique<char[]>(window));
    if (budget.try_pin(buffers.back().get(), 1000)) ++pinned;
    else ++refused;
    CHECK(budget.pinned_bytes() <= 3 * window);
  }
  CHECK(pinned >= 1);
  CHECK(refused >= 1);
  CHECK(budget.counters().at("messages_copied") == refused);
  CHECK(budget.counters().at("peak_pinned_bytes") <= 3 * window);

  // A message larger than the window comes alone in its response, with the response's headers
  // around it: it reaches as far as its own size and those headers, either side. (An address
  // on a block's boundary, as a larger buffer's could be.)
  constexpr size_t headers = size_t{256} << 10;
  PinBudget large(64 * window, window, headers);
  const size_t len = 10 * large.window_bytes();
  const auto* aligned = reinterpret_cast<const void*>(uintptr_t{1000} * large.block_bytes());
  REQUIRE(large.try_pin(aligned, len));
  CHECK(large.pinned_bytes() >= len + 2 * headers);

  PinBudget none(0, window, 0);
  CHECK_FALSE(none.try_pin(buffers.front().get(), 1000));
}

namespace {

struct MessageDestroyer {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDestroyer>;

// The sanitizer build's allocator is ASan's: glibc's mallopt and mallinfo2 say nothing of it.
using test::kSanitizedHeap;

// The bytes malloc has mmap'd: with a fixed threshold under the fetch size, every fetch buffer
// librdkafka receives a response into is one of them, so their sum is what held messages keep.
size_t mmapped_bytes() { return mallinfo2().hblkhd; }

}  // namespace

// The premise of the bound, against librdkafka's own buffers (the mock cluster on loopback): a
// held message keeps its fetch response's buffer, at most one window long, and the budget's
// count of the messages held is at least what they really keep.
TEST_CASE("messages held from librdkafka's fetch responses keep no more than the pin budget counts") {
  if (kSanitizedHeap) {
    MESSAGE("not measured: the heap is ASan's, whose mmap'd bytes glibc's mallinfo2 does not count");
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 64 << 10);  // fixed (no dynamic threshold): every buffer over 64 KiB mmap'd
  struct Restore {
    ~Restore() { mallopt(M_MMAP_THRESHOLD, 128 << 10); }  // glibc's initial threshold, for the tests after
  } restore;
  EmbeddedBroker broker;
  broker.create_topic("premise", 1);
  constexpr size_t kMessages = 80, kLen = 40000, kFetch = 1000000;
  {
    Publisher publisher({{"bootstrap.servers", broker.bootstrap_servers()}}, "premise");
    for (size_t i = 0; i < kMessages; ++i) publisher.publish(std::string(kLen, static_cast<char>('a' + i % 26)));
    publisher.flush();
  }
  rd_kafka_conf_t* conf = make_conf({{"bootstrap.servers", broker.bootstrap_servers()},
                                     {"group.id", "premise"},
                                     {"enable.auto.commit", "false"},
                                     {"enable.partition.eof", "true"},
                                     {"fetch.max.bytes", std::to_string(kFetch)},
                                     {"max.partition.fetch.bytes", std::to_string(kFetch)},
                                     {"queued.max.messages.kbytes", "1000"}},
                                    "premise consumer");
  char error[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error));
  REQUIRE(rk);
  rd_kafka_poll_set_consumer(rk.get());
  const size_t baseline = mmapped_bytes();
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, "premise", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk.get(), list);
  rd_kafka_topic_partition_list_destroy(list);

  // The source's window for this fetch size (kafka_source.cpp: fetch.max.bytes plus 256 KiB of headers).
  PinBudget pins(size_t{1} << 30, kFetch, size_t{256} << 10);
  std::vector<MessagePtr> held;
  std::vector<PinBudget::Pin> held_pins;
  bool at_end = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!at_end && std::chrono::steady_clock::now() < deadline) {
    MessagePtr m(rd_kafka_consumer_poll(rk.get(), 100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) at_end = held.size() == kMessages;
    else if (!m->err) {
      REQUIRE(m->len == kLen);
      auto pin = pins.try_pin(m->payload, m->len);
      REQUIRE(pin);
      held_pins.push_back(*pin);
      held.push_back(std::move(m));
    }
  }
  REQUIRE(held.size() == kMessages);
  // Every message held: their buffers are mmap'd (at least the payloads), within the count.
  const size_t all_held = mmapped_bytes() - baseline;
  MESSAGE("80 messages of 40 kB held: " << all_held << " bytes mmap'd, counted " << pins.pinned_bytes());
  CHECK(all_held >= kMessages * kLen);
  CHECK(all_held <= pins.pinned_bytes());

  // One message held, from the middle: it keeps its response's buffer, at most one window (plus
  // malloc's page), and no more than the count of it alone.
  for (size_t i = 0; i < held.size(); ++i)
    if (i != kMessages / 2) {
      held[i].reset();
      pins.release(held_pins[i]);
    }
  const size_t one_held = mmapped_bytes() - baseline;
  MESSAGE("1 message held: " << one_held << " bytes mmap'd, counted " << pins.pinned_bytes() << ", window "
                             << pins.window_bytes());
  CHECK(one_held >= kLen);
  CHECK(one_held <= pins.window_bytes() + 4096);
  CHECK(one_held <= pins.pinned_bytes());
  held[kMessages / 2].reset();
  pins.release(held_pins[kMessages / 2]);
  CHECK(mmapped_bytes() - baseline < kLen);  // every buffer gone with its last message
  CHECK(pins.pinned_bytes() == 0);
  rd_kafka_consumer_close(rk.get());
}

namespace {

// A member of a subscribing group (eager rebalancing, as the source's): counts its assignments
// and revocations.
struct Member {
  int assigned = 0, revoked = 0;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque) {
    auto* self = static_cast<Member*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      ++self->assigned;
      rd_kafka_assign(rk, partitions);
    } else {
      ++self->revoked;
      rd_kafka_assign(rk, nullptr);
    }
  }
};

KafkaHandle subscribe(const std::string& bootstrap, const std::string& topic, Member& member) {
  rd_kafka_conf_t* conf = make_conf({{"bootstrap.servers", bootstrap},
                                     {"group.id", "views"},
                                     {"enable.auto.commit", "false"},
                                     {"auto.offset.reset", "earliest"},
                                     {"session.timeout.ms", "6000"},  // a rebalance in ~5 s, not ~45
                                     {"heartbeat.interval.ms", "500"}},
                                    "group member");
  rd_kafka_conf_set_opaque(conf, &member);
  rd_kafka_conf_set_rebalance_cb(conf, &Member::on_rebalance);
  char error[512];
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error));
  REQUIRE(rk);
  rd_kafka_poll_set_consumer(rk.get());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
  REQUIRE(rd_kafka_subscribe(rk.get(), list) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  return rk;
}

}  // namespace

// Subscribe mode: the group takes partitions away (another member joins) while messages taken
// from them are still held, as viewed records hold theirs. The held messages keep their bytes,
// and releasing them brings the count back to 0.
TEST_CASE("messages held across a group rebalance keep their bytes, and their pins go back") {
  EmbeddedBroker broker;
  broker.create_topic("views", 2);
  constexpr size_t kMessages = 40, kLen = 40000;
  auto value = [](size_t i) { return std::to_string(i) + ":" + std::string(kLen - 8, static_cast<char>('a' + i % 26)); };
  {
    Publisher publisher({{"bootstrap.servers", broker.bootstrap_servers()}}, "views");
    for (size_t i = 0; i < kMessages; ++i) publisher.publish(value(i), std::to_string(i));
    publisher.flush();
  }
  PinBudget pins(size_t{1} << 30, 1000000, size_t{256} << 10);
  Member first;
  KafkaHandle a = subscribe(broker.bootstrap_servers(), "views", first);
  std::vector<MessagePtr> held;
  std::vector<PinBudget::Pin> held_pins;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (held.size() < kMessages && std::chrono::steady_clock::now() < deadline) {
    MessagePtr m(rd_kafka_consumer_poll(a.get(), 100));
    if (!m || m->err) continue;
    auto pin = pins.try_pin(m->payload, m->len);
    REQUIRE(pin);
    held_pins.push_back(*pin);
    held.push_back(std::move(m));
  }
  REQUIRE(held.size() == kMessages);
  REQUIRE(first.assigned >= 1);

  // A second member joins: the first's partitions are revoked while it holds their messages.
  Member second;
  KafkaHandle b = subscribe(broker.bootstrap_servers(), "views", second);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((first.revoked == 0 || second.assigned == 0) && std::chrono::steady_clock::now() < deadline) {
    MessagePtr from_a(rd_kafka_consumer_poll(a.get(), 50));  // none new: the first read them all
    MessagePtr from_b(rd_kafka_consumer_poll(b.get(), 50));  // read again from the start: dropped
  }
  REQUIRE(first.revoked >= 1);
  REQUIRE(second.assigned >= 1);
  std::set<std::string> values;
  for (const MessagePtr& m : held) values.insert(std::string(static_cast<const char*>(m->payload), m->len));
  CHECK(values.size() == kMessages);
  for (size_t i = 0; i < kMessages; ++i) CHECK(values.count(value(i)) == 1);
  CHECK(pins.pinned_bytes() > 0);
  for (size_t i = 0; i < held.size(); ++i) {
    held[i].reset();
    pins.release(held_pins[i]);
  }
  CHECK(pins.pinned_bytes() == 0);
  rd_kafka_consumer_close(b.get());
  rd_kafka_consumer_close(a.get());
}

TEST_CASE("a pin whose message was not handed on goes back to the budget") {
  PinBudget budget(size_t{64} << 20, size_t{1} << 20, 0);
  auto buffer = std::make_unique<char[]>(1000);
  auto pin = budget.try_pin(buffer.get(), 1000);
  REQUIRE(pin);
  try {
    PinBudget::Guard guard(budget, *pin);
    throw std::bad_alloc();  // as make_shared of the message's owner would
  } catch (const std::bad_alloc&) {
  }
  CHECK(budget.pinned_bytes() == 0);
  auto kept = budget.try_pin(buffer.get(), 1000);
  REQUIRE(kept);
  {
    PinBudget::Guard guard(budget, *kept);
    guard.dismiss();  // handed on: its owner releases it
  }
  CHECK(budget.pinned_bytes() > 0);
  budget.release(*kept);
  CHECK(budget.pinned_bytes() == 0);
}

}  // namespace ebs::kafka
