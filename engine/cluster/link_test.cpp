// The links between nodes. The fencing of a node declared lost (docs/cluster.md "Failures"):
// every message on a link carries its epoch, and once a node's links are raised to a new epoch
// nothing of an older one is accepted. In the binary's SIGSTOP test the resumed node's connections
// are already closed by the heartbeats, so its messages never arrive; here the links get them, as
// they would from a node whose connection outlived its loss (a network that healed before the
// time-out closed it).
#include "engine/cluster/link.h"

#include <doctest/doctest.h>

#include <optional>
#include <thread>

#include "engine/cluster/held_tokens.h"
#include "engine/cluster/messages.h"
#include "engine/model/record_bytes.h"
#include "engine/runtime/batch.h"
#include "engine/runtime/credit_window.h"
#include "engine/runtime/messages.h"
#include "engine/runtime/source_sequence.h"

using namespace ebs;
using namespace ebs::cluster;

namespace {

// How long a check that nothing arrives waits; a message that is expected is waited for up to
// kExpected (it returns on arrival), so a loaded machine does not fail the test.
constexpr auto kQuiet = std::chrono::milliseconds(300);
constexpr auto kExpected = std::chrono::seconds(10);

const HeldLimits kHeld = held_limits(int64_t{8} << 20);
const CreditLimits kWindow{16, int64_t{8} << 20};

RecordPtr alert(const std::string& object_id) {
  auto core = std::make_shared<AlertCore>();
  core->object_id = object_id;
  return std::make_shared<const Alert>(core);
}

// Waits up to kExpected for `done`.
template <typename Done>
void wait_for(Done done) {
  const auto until = std::chrono::steady_clock::now() + kExpected;
  while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Waits up to kExpected for `tracker` to acknowledge through `sequence`.
void wait_acknowledged(const AckTracker& tracker, uint64_t sequence) {
  wait_for([&] { return tracker.acknowledged_through() >= sequence; });
}

}  // namespace

// What every case of a link out starts from: an actor system, the node and the upstream that talk
// to the link, and the link's counters.
struct LinkOutCase {
  caf::actor_system_config config;
  caf::actor_system system{config};
  caf::scoped_actor node{system}, upstream{system};
  std::shared_ptr<LinkCounters> counters = std::make_shared<LinkCounters>();
};

TEST_CASE("a link in fenced to a new epoch refuses what the lost sender sends, and serves its replacement") {
  caf::actor_system_config config;
  caf::actor_system system(config);
  caf::scoped_actor target(system), node(system), lost(system), replacement(system);
  auto counters = std::make_shared<LinkCounters>();
  caf::actor link = spawn_link_in(system, caf::actor_cast<caf::actor>(target), 3, caf::actor_cast<caf::actor>(node),
                                  std::make_shared<AckScope>(), counters);
  // What reaches the local instance behind the link: the stream time it was sent, if any.
  auto passed = [&](std::chrono::milliseconds wait) -> std::optional<double> {
    std::optional<double> mjd;
    target->receive([&](msg::stream_time_atom, uint32_t, double t) { mjd = t; }, caf::after(wait) >> [] {});
    return mjd;
  };
  lost->send(link, link_time_atom::value, kFirstEpoch, uint32_t{0}, 60000.25);
  CHECK(passed(kExpected) == 60000.25);

  node->send(link, fence_atom::value, kFirstEpoch + 1);  // the coordinator declared the sender's node lost
  lost->send(link, link_time_atom::value, kFirstEpoch, uint32_t{0}, 60000.5);  // it comes back
  lost->send(link, link_eos_atom::value, kFirstEpoch);
  CHECK(!passed(kQuiet));
  CHECK(counters->messages_refused.load() == 2);

  replacement->send(link, link_time_atom::value, kFirstEpoch + 1, uint32_t{0}, 60000.75);
  CHECK(passed(kExpected) == 60000.75);
  replacement->send(link, link_eos_atom::value, kFirstEpoch + 1);
  bool ended = false;
  target->receive([&](msg::eos_atom) { ended = true; }, caf::after(kExpected) >> [] {});
  CHECK(ended);
  CHECK(counters->messages_refused.load() == 2);
}

TEST_CASE_FIXTURE(LinkOutCase, "a link out refuses the credit and the releases of an older epoch: a batch is kept until its peer releases it") {
  caf::scoped_actor lost(system), peer(system);
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, kWindow, kHeld);
  // Rebound after a loss: its peer now is the replacement's link in, at epoch 2.
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch + 1, false);
  upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {}, {}), int64_t{0});
  uint64_t seq = 0, epoch = 0;
  peer->receive(
      [&](records_atom, uint64_t e, uint64_t s, uint32_t, uint8_t, const std::string&, const std::string&,
          int64_t, uint64_t, bool) {
        epoch = e;
        seq = s;
      },
      caf::after(kExpected) >> [] {});
  REQUIRE(seq > 0);
  CHECK(epoch == kFirstEpoch + 1);
  auto credit_back = [&](std::chrono::milliseconds wait) {
    int64_t batches = 0;
    upstream->receive([&](msg::credit_atom, int64_t b, int64_t) { batches = b; }, caf::after(wait) >> [] {});
    return batches;
  };
  // The lost node's link in, back, says it took and handled the batch: refused, the batch stays kept.
  lost->send(link, link_credit_atom::value, kFirstEpoch, int64_t{1});
  lost->send(link, released_atom::value, kFirstEpoch, seq, false);
  CHECK(credit_back(kQuiet) == 0);
  CHECK(counters->messages_refused.load() == 2);

  peer->send(link, link_credit_atom::value, kFirstEpoch + 1, int64_t{1});
  peer->send(link, released_atom::value, kFirstEpoch + 1, seq, false);
  CHECK(credit_back(kExpected) == 1);
  CHECK(counters->messages_refused.load() == 2);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(LinkOutCase, "a batch that crosses a link keeps its source sequence: the receiving node's token stands for the source's") {
  caf::scoped_actor target(system), run(system);
  auto scope = std::make_shared<AckScope>();
  caf::actor out = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, kWindow, kHeld);
  caf::actor in = spawn_link_in(system, caf::actor_cast<caf::actor>(target), 0, caf::actor_cast<caf::actor>(run), scope,
                                counters);
  node->send(out, peer_atom::value, in, kFirstEpoch, false);
  // The source's seventh batch.
  auto tracker = std::make_shared<AckTracker>();
  for (int i = 0; i < 6; ++i) tracker->release(tracker->issue(0), 0, AckOutcome::acknowledged);
  auto token = std::make_shared<const AckToken>(tracker, 0);
  REQUIRE(token->sequence() == 7);
  upstream->send(out, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {}, {token}), int64_t{0});
  token.reset();
  std::optional<uint64_t> crossed, own;
  target->receive(
      [&](msg::data_atom, uint32_t, BatchView batch, int64_t) {
        crossed = source_sequence(batch);
        REQUIRE(batch.acks().size() == 1);
        own = batch.acks()[0]->sequence();
      },
      caf::after(kExpected) >> [] {});
  CHECK(crossed == std::optional<uint64_t>(7));
  CHECK(own == std::optional<uint64_t>(1));  // the link in's own numbering
  // Released on the receiving node: the source's token is acknowledged.
  wait_acknowledged(*tracker, 7);
  CHECK(tracker->acknowledged_through() == 7);
  caf::anon_send_exit(out, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(in, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(LinkOutCase, "a link out rebound to a replacement on its own node tells its upstream, which then counts it as local") {
  caf::scoped_actor remote_peer(system), replacement(system);
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, kWindow, kHeld);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(remote_peer), kFirstEpoch, false);
  upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {}, {}), int64_t{0});
  auto locality = [&](std::chrono::milliseconds wait) -> std::optional<bool> {
    std::optional<bool> remote;
    upstream->receive([&](msg::locality_atom, bool r) { remote = r; }, caf::after(wait) >> [] {});
    return remote;
  };
  CHECK(!locality(kQuiet));  // wired as remote: nothing to tell
  // The peer's node was lost; the replacement runs on this node: the batch it had not released passes to it.
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(replacement), kFirstEpoch + 1, true);
  CHECK(locality(kExpected) == std::optional<bool>(false));
  bool replayed = false;
  replacement->receive([&](msg::data_atom, uint32_t, BatchView, int64_t) { replayed = true; }, caf::after(kExpected) >> [] {});
  CHECK(replayed);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(LinkOutCase, "credit across a link comes back when the receiving instance takes a batch, before its node releases it") {
  caf::scoped_actor peer(system);
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, kWindow, kHeld);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch, false);
  auto tracker = std::make_shared<AckTracker>();
  auto token = std::make_shared<const AckToken>(tracker, 0);
  upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {}, {token}), int64_t{0});
  token.reset();
  uint64_t seq = 0;
  peer->receive([&](records_atom, uint64_t, uint64_t s, uint32_t, uint8_t, const std::string&, const std::string&, int64_t,
                    uint64_t, bool) { seq = s; },
                caf::after(kExpected) >> [] {});
  REQUIRE(seq > 0);
  // Taken (an actor that holds its acknowledgement, as a coincidence holds its events' notices).
  peer->send(link, link_credit_atom::value, kFirstEpoch, int64_t{1});
  int64_t batches = 0;
  upstream->receive([&](msg::credit_atom, int64_t b, int64_t) { batches = b; }, caf::after(kExpected) >> [] {});
  CHECK(batches == 1);
  // The token stays on the sender until the receiving node released the batch.
  CHECK(tracker->acknowledged_through() == 0);
  peer->send(link, released_atom::value, kFirstEpoch, seq, false);
  wait_acknowledged(*tracker, 1);
  CHECK(tracker->acknowledged_through() == 1);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

// What a peer of a link out receives: each batch (its sequence, once its last part came), the
// stream time and the end of stream, in order. The `expected` first of them are waited for up to
// kExpected each (a loaded machine may stall for longer than kQuiet); then it receives until
// nothing more comes for kQuiet, so that more than expected shows.
struct Received {
  std::vector<uint64_t> batches;
  std::vector<std::string> order;  // "batch", "time", "end"
};

Received receive_all(caf::scoped_actor& peer, size_t expected) {
  Received got;
  bool more = true;
  while (more) {
    const std::chrono::milliseconds wait = got.order.size() < expected ? kExpected : kQuiet;
    peer->receive(
        [&](records_atom, uint64_t, uint64_t seq, uint32_t, uint8_t, const std::string&, const std::string&, int64_t,
            uint64_t, bool last) {
          if (!last) return;
          got.batches.push_back(seq);
          got.order.push_back("batch");
        },
        [&](link_time_atom, uint64_t, uint32_t, double) { got.order.push_back("time"); },
        [&](link_eos_atom, uint64_t) { got.order.push_back("end"); }, caf::after(wait) >> [&] { more = false; });
  }
  return got;
}

// The credit the upstream got back, in batches: waited for up to kExpected until `expected`
// came, then summed until nothing more comes for kQuiet.
int64_t credit_back(caf::scoped_actor& upstream, int64_t expected) {
  int64_t batches = 0;
  bool more = true;
  while (more) {
    const std::chrono::milliseconds wait = batches < expected ? kExpected : kQuiet;
    upstream->receive([&](msg::credit_atom, int64_t b, int64_t) { batches += b; },
                      [&](msg::locality_atom, bool) {}, caf::after(wait) >> [&] { more = false; });
  }
  return batches;
}

TEST_CASE_FIXTURE(LinkOutCase, "a rebind replays what the link kept paced by the replacement's credit, in order, then the stream time and the end") {
  caf::scoped_actor lost(system), replacement(system);
  const RecordPtr record = alert("ZTF21aaaaaaa");
  const int64_t one = static_cast<int64_t>(record_bytes(*record));
  // Four batches in flight to the peer at most.
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, CreditLimits{4, 0}, kHeld);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(lost), kFirstEpoch, false);
  auto tracker = std::make_shared<AckTracker>();
  for (int i = 0; i < 10; ++i) {
    auto token = std::make_shared<const AckToken>(tracker, 1);
    upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {record}, {token}),
                   int64_t{0});
  }
  // The first peer takes them four at a time (an upstream keeps within its window: here it
  // sends all ten at once, and the link holds back what the peer has no credit for).
  std::vector<uint64_t> first;
  for (int round = 0; round < 3; ++round) {
    Received got = receive_all(lost, round < 2 ? 4 : 2);
    CHECK(got.batches.size() == static_cast<size_t>(round < 2 ? 4 : 2));
    first.insert(first.end(), got.batches.begin(), got.batches.end());
    lost->send(link, link_credit_atom::value, kFirstEpoch, static_cast<int64_t>(got.batches.size()));
  }
  REQUIRE(first.size() == 10);
  // Taken, not released (an actor holding their acknowledgements): all credited to the upstream.
  CHECK(credit_back(upstream, 10) == 10);
  upstream->send(link, msg::stream_time_atom::value, uint32_t{0}, 60000.5);
  upstream->send(link, msg::eos_atom::value);
  CHECK(receive_all(lost, 2).order == std::vector<std::string>{"time", "end"});

  // The peer's node was lost: the replacement gets the ten again, never more than four in flight.
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(replacement), kFirstEpoch + 1, false);
  std::vector<uint64_t> replayed;
  std::vector<std::string> order;
  for (int round = 0; round < 3; ++round) {
    Received got = receive_all(replacement, 4);  // the last round: two batches, the time and the end
    const size_t batches = got.batches.size();
    CHECK(batches == static_cast<size_t>(round < 2 ? 4 : 2));
    replayed.insert(replayed.end(), got.batches.begin(), got.batches.end());
    order.insert(order.end(), got.order.begin(), got.order.end());
    if (batches == 0) break;
    replacement->send(link, link_credit_atom::value, kFirstEpoch + 1, static_cast<int64_t>(batches));
  }
  CHECK(replayed == first);
  // The stream time and the end came after the last replayed batch.
  REQUIRE(order.size() == 12);
  CHECK(order[10] == "time");
  CHECK(order[11] == "end");
  CHECK(counters->batches_replayed.load() == 10);
  CHECK(counters->records_replayed.load() == 10);
  CHECK(credit_back(upstream, 0) == 0);  // granted once, before the loss
  for (uint64_t seq : replayed) replacement->send(link, released_atom::value, kFirstEpoch + 1, seq, false);
  wait_acknowledged(*tracker, 10);
  CHECK(tracker->acknowledged_through() == 10);

  // A byte window: in flight stays within it plus one batch.
  caf::scoped_actor peer(system);
  caf::actor bytes_link =
      spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, CreditLimits{16, 2 * one + one / 2}, kHeld);
  for (int i = 0; i < 5; ++i)
    upstream->send(bytes_link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {record}, {}),
                   int64_t{0});
  node->send(bytes_link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch, false);
  CHECK(receive_all(peer, 3).batches.size() == 3);
  peer->send(bytes_link, link_credit_atom::value, kFirstEpoch, int64_t{3});
  CHECK(receive_all(peer, 2).batches.size() == 2);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bytes_link, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(LinkOutCase, "past its held cap a link out keeps the oldest held batches as tokens only: the edge goes on, a failover abandons them") {
  caf::scoped_actor lost(system), replacement(system);
  const RecordPtr a = alert("ZTF21aaaaaaa"), b = alert("ZTF21bbbbbbb"), c = alert("ZTF21ccccccc");
  const int64_t one = static_cast<int64_t>(record_bytes(*a));
  REQUIRE(one > 0);
  // Room for one held batch and a half.
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, kWindow,
                                  HeldLimits{one + one / 2, kHeld.tokens_bytes});
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(lost), kFirstEpoch, false);
  // Four batches, each with its source's token.
  std::vector<std::shared_ptr<AckTracker>> trackers;
  for (const RecordPtr& record : {a, b, c, alert("ZTF21ddddddd")}) {
    trackers.push_back(std::make_shared<AckTracker>());
    auto token = std::make_shared<const AckToken>(trackers.back(), 1);
    upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {record}, {token}),
                   int64_t{0});
  }
  Received got = receive_all(lost, 4);
  REQUIRE(got.batches.size() == 4);
  // The receiving instance took all four and holds them (as a coincidence holds its notices):
  // every credit comes back, nothing waits for a release.
  lost->send(link, link_credit_atom::value, kFirstEpoch, int64_t{4});
  CHECK(credit_back(upstream, 4) == 4);
  // Only the newest is kept whole; the three before it as their tokens only.
  CHECK(counters->batches_unkept.load() == 3);
  // A batch kept as its token only is still acknowledged on its release.
  lost->send(link, released_atom::value, kFirstEpoch, got.batches[0], false);
  wait_acknowledged(*trackers[0], 1);
  CHECK(trackers[0]->acknowledged_through() == 1);

  // The node is lost: the replacement gets the one kept whole; the two kept as tokens are
  // abandoned, never acknowledged, and counted.
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(replacement), kFirstEpoch + 1, false);
  Received again = receive_all(replacement, 1);
  CHECK(again.batches == std::vector<uint64_t>{got.batches[3]});
  CHECK(counters->batches_replayed.load() == 1);
  CHECK(counters->batches_not_replayed.load() == 2);
  CHECK(counters->records_not_replayed.load() == 2);
  CHECK(counters->batches_abandoned.load() == 2);
  for (size_t i : {size_t{1}, size_t{2}}) {
    wait_for([&] { return trackers[i]->records_abandoned() > 0; });
    CHECK(trackers[i]->records_abandoned() == 1);
    CHECK(trackers[i]->acknowledged_through() == 0);
  }
  replacement->send(link, link_credit_atom::value, kFirstEpoch + 1, int64_t{1});
  replacement->send(link, released_atom::value, kFirstEpoch + 1, got.batches[3], false);
  wait_acknowledged(*trackers[3], 1);
  CHECK(trackers[3]->acknowledged_through() == 1);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

// A link out past both its held bounds: 200 batches of one record and one source token sent to
// `lost`, which took them all and holds them (an actor holding acknowledgements) but for two it
// released. The link keeps one batch whole and forty as their tokens only; the credit of the rest
// waits.
struct PastBothHeldBounds : LinkOutCase {
  static constexpr int kTokensOnly = 40;
  static constexpr int kBatches = 200;
  caf::scoped_actor lost{system}, replacement{system};
  const RecordPtr record = alert("ZTF21aaaaaaa");
  // What a batch of one source token costs kept as tokens only.
  const int64_t entry =
      HeldTokens::entry_bytes({std::make_shared<const AckToken>(std::make_shared<AckTracker>(), 1)});
  const HeldLimits held{static_cast<int64_t>(record_bytes(*record)), kTokensOnly * entry + entry / 2};
  std::shared_ptr<AckTracker> tracker = std::make_shared<AckTracker>();
  caf::actor link;
  Received got;

  PastBothHeldBounds() {
    // Room in flight for all of them: only the held bounds keep credit back.
    link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, CreditLimits{kBatches + 1, 0}, held);
    node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(lost), kFirstEpoch, false);
    for (int i = 0; i < kBatches; ++i) {
      auto token = std::make_shared<const AckToken>(tracker, 1);
      upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {record}, {token}),
                     int64_t{0});
    }
    got = receive_all(lost, kBatches);
    REQUIRE(got.batches.size() == static_cast<size_t>(kBatches));
    // The receiving instance took them all and holds them: one is kept whole, forty as their
    // tokens only; the credit of the other 159 waits.
    lost->send(link, link_credit_atom::value, kFirstEpoch, int64_t{kBatches});
    CHECK(credit_back(upstream, 1 + kTokensOnly) == 1 + kTokensOnly);
    CHECK(counters->batches_unkept.load() == kTokensOnly);
    CHECK(counters->held_tokens_bytes.load() == kTokensOnly * entry);
    CHECK(counters->held_tokens_peak_bytes.load() <= held.tokens_bytes);
    CHECK(counters->credits_held_back.load() == kBatches - 1 - kTokensOnly);
    // All of them at once in the list a release searches (bench/cluster/link_bench.cpp times it).
    CHECK(counters->held_back_peak.load() == kBatches - 1 - kTokensOnly);
    CHECK(tracker->records_acknowledged() == 0);

    // The holder releases the oldest (kept as its token): room for one more, so the oldest batch
    // held back gets its credit, and only the released batch is acknowledged.
    lost->send(link, released_atom::value, kFirstEpoch, got.batches[0], false);
    CHECK(credit_back(upstream, 1) == 1);
    wait_acknowledged(*tracker, 1);
    CHECK(tracker->acknowledged_through() == 1);
    CHECK(tracker->records_acknowledged() == 1);
    CHECK(counters->held_tokens_bytes.load() == kTokensOnly * entry);  // the next oldest took its place
    // A batch held back that is released gets its credit at once, out of turn.
    lost->send(link, released_atom::value, kFirstEpoch, got.batches[kBatches - 1], false);
    CHECK(credit_back(upstream, 1) == 1);
    wait_for([&] { return tracker->records_acknowledged() >= 2; });
    CHECK(tracker->records_acknowledged() == 2);
    CHECK(tracker->acknowledged_through() == 1);
    // Counted once each, however many times their credit was tried.
    CHECK(counters->credits_held_back.load() == kBatches - 1 - kTokensOnly);
  }

  // Of the 200: 43 credited so far (41, then two on releases); 2 released; batches 1 to 40 kept
  // as their tokens only, batch 41 kept whole, 42 to 198 (157) held back.
  static constexpr int kCredited = 3 + kTokensOnly;
  static constexpr int kHeldBack = kBatches - 3 - kTokensOnly;

  ~PastBothHeldBounds() { caf::anon_send_exit(link, caf::exit_reason::user_shutdown); }
};

namespace {

// How a link out of held limits `held` answers 300 batches of one record and one source token
// that its peer took and holds: the batches whose credit came back, and its counters.
struct HeldBack {
  int64_t credited = 0;
  std::shared_ptr<LinkCounters> counters = std::make_shared<LinkCounters>();
};
HeldBack held_back(caf::actor_system& system, caf::scoped_actor& node, caf::scoped_actor& upstream, HeldLimits held) {
  constexpr int kBatches = 300;
  HeldBack out;
  caf::scoped_actor peer{system};
  const RecordPtr record = alert("ZTF21aaaaaaa");
  auto tracker = std::make_shared<AckTracker>();
  // Room in flight for all of them: only the held bounds keep credit back.
  caf::actor link =
      spawn_link_out(system, caf::actor_cast<caf::actor>(node), out.counters, CreditLimits{kBatches + 1, 0}, held);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch, false);
  for (int i = 0; i < kBatches; ++i)
    upstream->send(link, msg::data_atom::value, uint32_t{0},
                   BatchView::make(PortType::alert, {record}, {std::make_shared<const AckToken>(tracker, 1)}),
                   int64_t{0});
  REQUIRE(receive_all(peer, kBatches).batches.size() == static_cast<size_t>(kBatches));
  peer->send(link, link_credit_atom::value, kFirstEpoch, int64_t{kBatches});
  wait_for([&] { return out.counters->credits_held_back.load() > 0; });
  out.credited = credit_back(upstream, 1);
  CHECK(out.credited + static_cast<int64_t>(out.counters->credits_held_back.load()) == kBatches);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
  return out;
}

}  // namespace

TEST_CASE_FIXTURE(LinkOutCase, "a smaller bound on held batches kept as tokens only (RunOptions::held_tokens_bytes) makes a link out's credit wait for a release sooner") {
  const int64_t entry =
      HeldTokens::entry_bytes({std::make_shared<const AckToken>(std::make_shared<AckTracker>(), 1)});
  // A byte window of 20 entries and a half: by default a link out keeps 20 batches as tokens only.
  const int64_t window = 20 * entry + entry / 2;
  const int64_t setting = 5 * entry + entry / 2;
  CHECK(held_limits(window).tokens_bytes == window);
  CHECK(held_limits(window, 0).tokens_bytes == window);
  CHECK(held_limits(window, setting).tokens_bytes == setting);
  CHECK(held_limits(window, setting).records_bytes == held_limits(window).records_bytes);

  const HeldBack by_default = held_back(system, node, upstream, held_limits(window));
  const HeldBack bounded = held_back(system, node, upstream, held_limits(window, setting));
  CHECK(by_default.counters->batches_unkept.load() == 20);
  CHECK(bounded.counters->batches_unkept.load() == 5);
  CHECK(bounded.counters->held_tokens_peak_bytes.load() <= setting);
  // As many kept whole (the same held cap), fifteen fewer kept as tokens: their credit waits.
  CHECK(by_default.credited - bounded.credited == 15);
  CHECK(bounded.counters->credits_held_back.load() == by_default.counters->credits_held_back.load() + 15);
}

TEST_CASE_FIXTURE(PastBothHeldBounds, "past its held cap and its tokens' bound a link out gives credit back only on a release: its memory stays bounded in bytes") {
  // The node is lost: the forty kept as tokens (batches 1 to 40) are abandoned, never
  // acknowledged; the replacement gets every other unreleased batch (41 to 198), kept whole or
  // held back, in order.
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(replacement), kFirstEpoch + 1, false);
  Received again = receive_all(replacement, kBatches - 2 - kTokensOnly);
  CHECK(again.batches == std::vector<uint64_t>(got.batches.begin() + 1 + kTokensOnly, got.batches.end() - 1));
  CHECK(counters->batches_not_replayed.load() == kTokensOnly);
  CHECK(counters->batches_replayed.load() == kBatches - 2 - kTokensOnly);
  CHECK(counters->held_tokens_bytes.load() == 0);
  wait_for([&] { return tracker->records_abandoned() >= kTokensOnly; });
  CHECK(tracker->records_abandoned() == kTokensOnly);
  // It takes the first hundred of them and holds them: forty more credits come back (the first
  // was granted before), then the tokens' bound is full again.
  constexpr int kTaken = 100;
  replacement->send(link, link_credit_atom::value, kFirstEpoch + 1, int64_t{kTaken});
  CHECK(credit_back(upstream, kTokensOnly) == kTokensOnly);
  // While the rest of the replay waits for its credit, it releases the last batch it took (its
  // credit held back): that credit comes at once, out of turn, and once.
  replacement->send(link, released_atom::value, kFirstEpoch + 1, again.batches[kTaken - 1], false);
  CHECK(credit_back(upstream, 1) == 1);
  wait_for([&] { return tracker->records_acknowledged() >= 3; });
  CHECK(tracker->records_acknowledged() == 3);
  // It takes the rest: their credit waits behind the others'.
  replacement->send(link, link_credit_atom::value, kFirstEpoch + 1,
                    static_cast<int64_t>(again.batches.size()) - kTaken);
  CHECK(credit_back(upstream, 0) == 0);
  // It releases them all: the rest of the credit comes back, and every one is acknowledged.
  for (uint64_t seq : again.batches) replacement->send(link, released_atom::value, kFirstEpoch + 1, seq, false);
  CHECK(credit_back(upstream, kHeldBack - kTokensOnly - 1) == kHeldBack - kTokensOnly - 1);
  wait_for([&] { return tracker->records_acknowledged() >= kBatches - kTokensOnly; });
  CHECK(tracker->records_acknowledged() == kBatches - kTokensOnly);
  CHECK(tracker->records_abandoned() == kTokensOnly);
  CHECK(tracker->acknowledged_through() == 1);
  CHECK(counters->held_tokens_bytes.load() == 0);
}

// Waits up to kExpected for the link to tell `node` it is drained.
bool drained(caf::scoped_actor& node) {
  bool is = false;
  const auto until = std::chrono::steady_clock::now() + kExpected;
  while (!is && std::chrono::steady_clock::now() < until)
    node->receive([&](drained_atom, bool d) { is = d; }, caf::after(kExpected) >> [] {});
  return is;
}

TEST_CASE_FIXTURE(PastBothHeldBounds, "past both held bounds an abandoned link out lets every unreleased batch go abandoned and gives each credit once") {
  node->send(link, abandon_atom::value);
  // The credit of the batches held back, and no more: every batch's credit came back once.
  CHECK(credit_back(upstream, kHeldBack) == kHeldBack);
  // The forty kept as tokens only and the 158 kept whole are abandoned, never acknowledged.
  wait_for([&] { return tracker->records_abandoned() >= kBatches - 2; });
  CHECK(tracker->records_abandoned() == kBatches - 2);
  CHECK(tracker->records_acknowledged() == 2);
  CHECK(counters->batches_abandoned.load() == kBatches - 2);
  CHECK(counters->batches_not_replayed.load() == 0);  // none was due to a replay
  CHECK(counters->held_tokens_bytes.load() == 0);
  // Nothing is unreleased: drained once its upstream ends.
  upstream->send(link, msg::eos_atom::value);
  CHECK(drained(node));
  // A release that comes late (the lost node's) changes nothing.
  lost->send(link, released_atom::value, kFirstEpoch, got.batches[1], false);
  CHECK(credit_back(upstream, 0) == 0);
  CHECK(tracker->records_acknowledged() == 2);
}

TEST_CASE_FIXTURE(PastBothHeldBounds, "past both held bounds a link out rebound to a local replacement passes it every batch kept whole with its tokens") {
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(replacement), kFirstEpoch + 1, true);
  // The forty kept as tokens only cannot be replayed: abandoned.
  wait_for([&] { return tracker->records_abandoned() >= kTokensOnly; });
  CHECK(tracker->records_abandoned() == kTokensOnly);
  CHECK(counters->batches_not_replayed.load() == kTokensOnly);
  CHECK(counters->records_not_replayed.load() == kTokensOnly);
  CHECK(counters->held_tokens_bytes.load() == 0);
  // The replacement gets the others (41 to 198) as they are, in order, tokens and all.
  std::vector<BatchView> passed;
  bool more = true;
  while (more)
    replacement->receive([&](msg::data_atom, uint32_t, BatchView batch, int64_t) { passed.push_back(std::move(batch)); },
                         caf::after(passed.size() < static_cast<size_t>(kHeldBack + 1) ? kExpected : kQuiet) >>
                             [&] { more = false; });
  REQUIRE(passed.size() == static_cast<size_t>(kHeldBack + 1));
  CHECK(counters->batches_replayed.load() == kHeldBack + 1);
  CHECK(tracker->records_acknowledged() == 2);
  // It takes them all: the credit held back comes back, once (batch 41's went before).
  replacement->send(link, msg::credit_atom::value, static_cast<int64_t>(passed.size()), int64_t{0});
  CHECK(credit_back(upstream, kHeldBack) == kHeldBack);
  // The tokens went with the batches: the replacement's handling acknowledges them.
  passed.clear();
  wait_for([&] { return tracker->records_acknowledged() >= kBatches - kTokensOnly; });
  CHECK(tracker->records_acknowledged() == kBatches - kTokensOnly);
  CHECK(tracker->records_abandoned() == kTokensOnly);
  upstream->send(link, msg::eos_atom::value);
  CHECK(drained(node));
}

TEST_CASE_FIXTURE(PastBothHeldBounds, "a link out that ends holding batches as tokens only takes their bytes out of its node's count") {
  CHECK(counters->held_tokens_bytes.load() == kTokensOnly * entry);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
  wait_for([&] { return counters->held_tokens_bytes.load() == 0; });
  CHECK(counters->held_tokens_bytes.load() == 0);
  CHECK(counters->held_tokens_peak_bytes.load() == kTokensOnly * entry);
}

TEST_CASE_FIXTURE(LinkOutCase, "a link out's held cap counts each batch it keeps whole by its entry as well as its records: batches of no records do not pile up") {
  caf::scoped_actor peer(system);
  constexpr int kBatches = 100;
  // Batches of no records (their tokens only): 4 KiB keeps at most a dozen of them whole.
  const HeldLimits held{4096, int64_t{1} << 20};
  caf::actor link =
      spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, CreditLimits{kBatches + 1, 0}, held);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch, false);
  auto tracker = std::make_shared<AckTracker>();
  for (int i = 0; i < kBatches; ++i)
    upstream->send(link, msg::data_atom::value, uint32_t{0},
                   BatchView::make(PortType::alert, {}, {std::make_shared<const AckToken>(tracker, 0)}), int64_t{0});
  REQUIRE(receive_all(peer, kBatches).batches.size() == static_cast<size_t>(kBatches));
  peer->send(link, link_credit_atom::value, kFirstEpoch, int64_t{kBatches});
  CHECK(credit_back(upstream, kBatches) == kBatches);
  // Each costs the link a few hundred bytes kept whole: as many as fit in 4 KiB stay whole.
  const int64_t kept = kept_entry_bytes(BatchView::make(PortType::alert, {}, {std::make_shared<const AckToken>(tracker, 0)}));
  CHECK(kept > 200);
  CHECK(counters->batches_unkept.load() == static_cast<uint64_t>(kBatches - 4096 / kept));
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(LinkOutCase, "what comes during a replay waits behind it; a second loss mid-replay replays again from the oldest unreleased") {
  caf::scoped_actor lost(system), second(system), third(system);
  const RecordPtr record = alert("ZTF21aaaaaaa");
  // Two batches in flight to the peer at most.
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, CreditLimits{2, 0}, kHeld);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(lost), kFirstEpoch, false);
  auto tracker = std::make_shared<AckTracker>();
  auto send_one = [&] {
    auto token = std::make_shared<const AckToken>(tracker, 1);
    upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {record}, {token}),
                   int64_t{0});
  };
  for (int i = 0; i < 4; ++i) send_one();
  std::vector<uint64_t> first;
  for (int round = 0; round < 2; ++round) {
    Received got = receive_all(lost, 2);
    CHECK(got.batches.size() == 2);
    first.insert(first.end(), got.batches.begin(), got.batches.end());
    lost->send(link, link_credit_atom::value, kFirstEpoch, int64_t{2});
  }
  REQUIRE(first.size() == 4);
  CHECK(credit_back(upstream, 4) == 4);  // taken and held, none released

  // The first peer's node is lost: its replacement gets the first two of the replay ...
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(second), kFirstEpoch + 1, false);
  Received got = receive_all(second, 2);
  CHECK(got.batches == std::vector<uint64_t>{first[0], first[1]});
  // ... a new batch and a stream time come meanwhile: they wait behind the rest of the replay.
  send_one();
  upstream->send(link, msg::stream_time_atom::value, uint32_t{0}, 60000.5);
  CHECK(receive_all(second, 0).order.empty());
  CHECK(counters->batches_replayed.load() == 2);

  // The replacement's node is lost too, before it took anything: the next replacement gets every
  // unreleased batch again from the oldest, then the new one (never sent: not a replay), then the time.
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(third), kFirstEpoch + 2, false);
  std::vector<uint64_t> batches;
  std::vector<std::string> order;
  for (int round = 0; round < 3; ++round) {
    Received part = receive_all(third, 2);  // the last round: the new batch and the time
    CHECK(part.batches.size() == static_cast<size_t>(round < 2 ? 2 : 1));
    batches.insert(batches.end(), part.batches.begin(), part.batches.end());
    order.insert(order.end(), part.order.begin(), part.order.end());
    if (part.batches.empty()) break;
    third->send(link, link_credit_atom::value, kFirstEpoch + 2, static_cast<int64_t>(part.batches.size()));
  }
  REQUIRE(batches.size() == 5);
  CHECK(std::vector<uint64_t>(batches.begin(), batches.begin() + 4) == first);
  CHECK(batches[4] > first[3]);
  CHECK(order == std::vector<std::string>{"batch", "batch", "batch", "batch", "batch", "time"});
  CHECK(counters->batches_replayed.load() == 2 + 4);
  CHECK(counters->records_replayed.load() == 2 + 4);
  CHECK(credit_back(upstream, 1) == 1);  // the new batch's, once the third peer took it

  // The second peer's reports are of a fenced epoch: refused.
  second->send(link, released_atom::value, kFirstEpoch + 1, first[0], false);
  wait_for([&] { return counters->messages_refused.load() >= 1; });
  CHECK(counters->messages_refused.load() == 1);
  CHECK(tracker->acknowledged_through() == 0);
  for (uint64_t seq : batches) third->send(link, released_atom::value, kFirstEpoch + 2, seq, false);
  wait_acknowledged(*tracker, 5);
  CHECK(tracker->acknowledged_through() == 5);
  CHECK(tracker->records_abandoned() == 0);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(LinkOutCase, "a link out keeps a narrowed batch by its own records: the records dropped from it are let go") {
  caf::scoped_actor peer(system);
  caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(node), counters, kWindow, kHeld);
  node->send(link, peer_atom::value, caf::actor_cast<caf::actor>(peer), kFirstEpoch, false);
  RecordPtr dropped = alert("ZTF21ddddddd");
  const RecordPtr c = alert("ZTF21ccccccc");
  upstream->send(link, msg::data_atom::value, uint32_t{0}, BatchView::make(PortType::alert, {dropped, c}, {}).select({1}),
                 int64_t{0});
  Received got = receive_all(peer, 1);
  REQUIRE(got.batches.size() == 1);
  // Once the link let go of the message that brought it, it keeps (unreleased) the record it sent only.
  wait_for([&] { return dropped.use_count() == 1; });
  CHECK(dropped.use_count() == 1);
  CHECK(c.use_count() > 1);
  peer->send(link, link_credit_atom::value, kFirstEpoch, int64_t{1});
  CHECK(credit_back(upstream, 1) == 1);
  caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}
