#include "engine/cluster/link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "engine/cluster/held_tokens.h"
#include "engine/cluster/messages.h"
#include "engine/graph/workflow.h"
#include "engine/model/record_bytes.h"
#include "engine/model/record_wire.h"
#include "engine/runtime/batch_compact.h"
#include "engine/runtime/credit_window.h"
#include "engine/runtime/messages.h"
#include "engine/runtime/source_sequence.h"

namespace ebs::cluster {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void abandon_tokens(const BatchView& batch) {
  for (const AckRef& a : batch.acks())
    if (a) a->abandon();
}

struct LinkOutState {
  // A batch the upstream sent: kept (records and tokens) until the receiving node released it,
  // and counted against the upstream's window until the receiving instance took it (credited).
  struct Sent {
    BatchView batch;
    uint32_t in_port = 0;
    int64_t bytes = 0;       // its records' (record_bytes): what the edge's window counts
    int64_t kept_bytes = 0;  // and its entry's here: what the held cap counts
    int64_t ingest_ns = 0;
    size_t records = 0;
    bool credited = false;   // the current peer took it
    bool released = false;
    bool granted = false;    // its credit went back to the upstream
    bool held_back = false;  // its credit waited for a release (counted once)
    bool replay = false;     // waits to be sent again, to a lost instance's replacement
    bool sent_before = false;  // went to a peer: sending it again is a replay (a possible duplicate)
  };
  caf::actor node;
  caf::actor peer;
  caf::actor upstream;
  uint64_t epoch = 0;
  bool local = false;       // the peer is a local instance (a replacement): batches pass as they are
  bool bound = false;       // has had a peer
  bool peer_lost = false;   // its node is gone: wait for a rebind or an abandon
  bool gone = false;        // abandoned for good: every batch is abandoned as it comes
  bool ended = false;       // the upstream sent its end of stream
  bool end_sent = false;    // ... and it went to the current peer
  bool time_due = false;    // the stream time goes to the current peer once `pending` is sent
  std::optional<bool> drained_told;
  std::optional<bool> local_told;  // what the upstream was last told of where the peer runs
  uint64_t next_seq = 0;
  std::map<uint64_t, Sent> window;  // until both granted and released, or unkept
  size_t unreleased = 0;            // of the window's batches and held_tokens'
  CreditLimits peer_window;         // the edge's window: what may be in flight to the current peer
  std::deque<uint64_t> pending;     // to send to the current peer, in order: a replay, then what came meanwhile
  std::deque<std::pair<uint64_t, int64_t>> uncredited;  // (seq, bytes) sent to the current peer, in order
  Credit in_flight;                 // their batches and bytes (credit comes back FIFO)
  std::set<uint64_t> held_kept;     // granted, not released, records kept: oldest first
  int64_t held_bytes = 0;           // theirs, with their entries (kept_bytes)
  int64_t max_held_bytes = 0;       // past it the oldest held batches' records go (unkeep)
  HeldTokens held_tokens{0};        // held batches unkept: their tokens only, within their own bound
  // Taken, unreleased, credit not given: both bounds were full. By sequence, which is the order the
  // peer takes them in: a release finds its own in O(log n) (a user may widen the window, and so
  // this, to 2^20 batches: docs/cluster.md "What crosses a link").
  std::set<uint64_t> held_back;
  std::vector<uint64_t> finished;   // granted and released: forgotten at the next grant
  Credit granting;                  // granted since the upstream was last told
  std::map<uint32_t, double> stream_time;
  std::shared_ptr<LinkCounters> counters;
  RecordEncoder encoder;
  const char* name = "link-out";

  // A link ended (its node kills it at the end of the run) no longer keeps its tokens-only entries:
  // the node-wide counter of what is kept now drops them (CAF destroys the state on exit).
  ~LinkOutState() {
    if (counters) counters->held_tokens_bytes.fetch_sub(held_tokens.bytes(), std::memory_order_relaxed);
  }
};

using LinkOut = caf::stateful_actor<LinkOutState>;

}  // namespace

int64_t kept_entry_bytes(const BatchView& batch) {
  int64_t bytes = tree_node_bytes(sizeof(std::pair<const uint64_t, LinkOutState::Sent>)) +
                  tree_node_bytes(sizeof(uint64_t)) +
                  heap_block_bytes(2 * sizeof(void*) + sizeof(Batch)) + HeldTokens::tokens_bytes(batch.acks());
  if (!batch.empty()) bytes += heap_block_bytes(batch.size() * sizeof(RecordPtr));
  return bytes;
}

namespace {

// Stops keeping the oldest held batch's records when its tokens fit within held_tokens' bound:
// its tokens stay there until the receiving node releases it, and a replay can no longer send it
// (not_replayed). False when they do not fit.
bool unkeep_oldest(LinkOutState& st) {
  const uint64_t oldest = *st.held_kept.begin();
  auto it = st.window.find(oldest);
  // A held batch leaves held_kept when released, before the window forgets it.
  assert(it != st.window.end());
  const std::vector<AckRef>& tokens = it->second.batch.acks();
  if (!st.held_tokens.fits(tokens)) return false;
  st.held_tokens.add(oldest, it->second.records, tokens);
  st.held_bytes -= it->second.kept_bytes;
  st.held_kept.erase(st.held_kept.begin());
  st.window.erase(it);  // its records go (it went to the current peer: no replay pending for it)
  st.counters->batches_unkept.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void note_held_tokens(LinkOutState& st, int64_t before) {
  const int64_t now = st.held_tokens.bytes();
  st.counters->held_tokens_bytes.fetch_add(now - before, std::memory_order_relaxed);
  int64_t peak = st.counters->held_tokens_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !st.counters->held_tokens_peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

// Makes room among the held batches kept whole for `bytes` more, unkeeping the oldest; false when
// held_tokens has no room for them. One batch is always kept whole.
bool make_room(LinkOutState& st, int64_t bytes) {
  const int64_t before = st.held_tokens.bytes();
  bool room = true;
  while (!st.held_kept.empty() && st.held_bytes + bytes > st.max_held_bytes)
    if (!unkeep_oldest(st)) {
      room = false;
      break;
    }
  note_held_tokens(st, before);
  return room;
}

void give_credit(LinkOutState& st, uint64_t seq, LinkOutState::Sent& sent) {
  sent.granted = true;
  ++st.granting.batches;
  st.granting.bytes += sent.bytes;
  if (sent.released) st.finished.push_back(seq);
}

// Gives the upstream back the credit of the taken batches held back, oldest first (told at the
// next grant()), as an edge in one process does once the receiving instance took a batch: an actor
// that holds acknowledgements (a coincidence holds its active events' notices) must not stop its
// upstream's batches. What it holds stays kept here until released, up to max_held_bytes (at least
// one batch); past that the oldest held batches are kept as their tokens only, up to held_tokens'
// bound. Past both a batch's credit waits for a release (its own, or one that makes room): then the
// edge waits on the holder, its memory bounded in bytes (docs/cluster.md "What crosses a link").
void give_held_back_credit(LinkOutState& st) {
  // What is left waits for a release, which finds its batch among these: how many, at most.
  struct NotePeak {
    LinkOutState& st;
    ~NotePeak() {
      const uint64_t length = st.held_back.size();
      uint64_t peak = st.counters->held_back_peak.load(std::memory_order_relaxed);
      while (length > peak && !st.counters->held_back_peak.compare_exchange_weak(peak, length)) {
      }
    }
  } note_peak{st};
  while (!st.held_back.empty()) {
    const uint64_t seq = *st.held_back.begin();
    auto it = st.window.find(seq);
    // Neither granted nor unkept: the window keeps it.
    assert(it != st.window.end());
    LinkOutState::Sent& sent = it->second;
    if (!sent.released) {
      if (!make_room(st, sent.kept_bytes)) {
        // Every batch waiting is counted once. Those counted before are the list's front: they
        // leave it from anywhere, new ones join at its back, and after a rebind the new peer takes
        // the batches in order, the counted ones (older) first. So only its uncounted back is
        // walked: each batch once, whatever the number of failed attempts.
        for (auto waiting = st.held_back.rbegin(); waiting != st.held_back.rend(); ++waiting) {
          LinkOutState::Sent& w = st.window.at(*waiting);
          if (w.held_back) break;
          w.held_back = true;
          st.counters->credits_held_back.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      st.held_kept.insert(seq);
      st.held_bytes += sent.kept_bytes;
    }
    st.held_back.erase(st.held_back.begin());
    give_credit(st, seq, sent);
  }
}

// The receiving node let go of the batch (or it passed to a local peer with its tokens).
void release(LinkOutState& st, uint64_t seq, LinkOutState::Sent& sent) {
  if (sent.released) return;
  sent.released = true;
  --st.unreleased;
  if (st.held_kept.erase(seq)) st.held_bytes -= sent.kept_bytes;
  if (sent.granted) {
    st.finished.push_back(seq);
  } else if (sent.credited) {
    // Its credit was held back: it costs nothing held any more.
    st.held_back.erase(seq);
    give_credit(st, seq, sent);
  }
}

// The receiving node let go of a batch kept as its tokens only.
void release_tokens(LinkOutState& st, HeldTokens::Entry entry, bool abandoned) {
  if (abandoned) {
    for (const AckRef& a : entry.tokens)
      if (a) a->abandon();
    st.counters->batches_abandoned.fetch_add(1, std::memory_order_relaxed);
  }
  --st.unreleased;
}

// A taken batch's credit waits for the next grant(): the peer takes batches in order, so it is the
// newest held back.
void hold_back(LinkOutState& st, uint64_t seq) {
  assert(st.held_back.empty() || *st.held_back.rbegin() < seq);
  st.held_back.insert(st.held_back.end(), seq);
}

// The receiving instance took the batch.
void mark_credited(LinkOutState& st, uint64_t seq, LinkOutState::Sent& sent) {
  if (sent.credited) return;
  sent.credited = true;
  if (sent.granted) return;
  if (sent.released) give_credit(st, seq, sent);
  else hold_back(st, seq);  // granted at the next grant(), in order, as far as room goes
}

// A batch a replay cannot send (only its tokens were kept): abandoned, never acknowledged.
void not_replayed(LinkOutState& st, HeldTokens::Entry entry) {
  st.counters->batches_not_replayed.fetch_add(1, std::memory_order_relaxed);
  st.counters->records_not_replayed.fetch_add(entry.records, std::memory_order_relaxed);
  release_tokens(st, std::move(entry), true);
}

// Every batch kept as its tokens only, at a rebind: not_replayed.
void abandon_held_tokens(LinkOutState& st, bool replay) {
  const int64_t before = st.held_tokens.bytes();
  for (HeldTokens::Entry& entry : st.held_tokens.take_all()) {
    if (replay) not_replayed(st, std::move(entry));
    else release_tokens(st, std::move(entry), true);
  }
  note_held_tokens(st, before);
}

void send_batch(LinkOut* self, uint64_t seq, LinkOutState::Sent& sent) {
  auto& st = self->state;
  sent.sent_before = true;
  st.uncredited.emplace_back(seq, sent.bytes);
  ++st.in_flight.batches;
  st.in_flight.bytes += sent.bytes;
  if (st.local) {
    // Tokens travel with the batch in one process: the replacement acknowledges them itself.
    self->send(st.peer, msg::data_atom::value, sent.in_port, sent.batch, sent.ingest_ns);
    sent.batch = {};
    release(st, seq, sent);
    return;
  }
  std::string types;
  std::string bytes;
  bytes.reserve(kMaxMessageBytes);
  const int64_t ingest_wall = wall_ns() - (steady_ns() - sent.ingest_ns);
  const uint8_t batch_type = static_cast<uint8_t>(sent.batch.type());
  // The receiving node's token keeps it: the instances of one actor on several nodes number
  // batches alike (the `filters` actor's switch points).
  const uint64_t source_seq = source_sequence(sent.batch).value_or(0);
  auto send_part = [&](bool last) {
    st.counters->messages_sent.fetch_add(1, std::memory_order_relaxed);
    st.counters->bytes_sent.fetch_add(bytes.size(), std::memory_order_relaxed);
    self->send(st.peer, records_atom::value, st.epoch, seq, sent.in_port, batch_type, std::move(types),
               std::move(bytes), ingest_wall, source_seq, last);
    // Moved from: room for the next part again, so that it is not grown (and copied) step by step.
    types.clear();
    bytes.clear();
    if (!last) bytes.reserve(kMaxMessageBytes);
  };
  for (size_t i = 0; i < sent.batch.size(); ++i) {
    const Record& record = sent.batch[i];
    const size_t size = st.encoder.append(record, bytes);
    if (!types.empty() && bytes.size() > kMaxMessageBytes) {
      // The part is full without this record: it starts the next one.
      std::string next = bytes.substr(bytes.size() - size);
      bytes.resize(bytes.size() - size);
      send_part(false);
      bytes.append(next);
    }
    types.push_back(static_cast<char>(record.type()));
  }
  send_part(true);
  st.counters->batches_sent.fetch_add(1, std::memory_order_relaxed);
}

// Whether one more batch may go to the peer: as CreditWindow::open, for the edge's window (at
// most the window plus one batch in flight; a batch larger than the window goes alone).
bool peer_window_open(const LinkOutState& st) {
  if (st.in_flight.batches == 0) return true;
  if (st.peer_window.batches > 0 && st.in_flight.batches >= st.peer_window.batches) return false;
  return st.peer_window.bytes <= 0 || st.in_flight.bytes < st.peer_window.bytes;
}

void send_end(LinkOut* self) {
  auto& st = self->state;
  if (st.local) self->send(st.peer, msg::eos_atom::value);
  else self->send(st.peer, link_eos_atom::value, st.epoch);
}

void send_stream_time(LinkOut* self, uint32_t in_port, double mjd) {
  auto& st = self->state;
  if (st.local) self->send(st.peer, msg::stream_time_atom::value, in_port, mjd);
  else self->send(st.peer, link_time_atom::value, st.epoch, in_port, mjd);
}

// Sends what waits for the current peer, in order, as far as the peer's credit goes: a replay
// (W_e + H_e, docs/cluster.md "Failures") is paced like any batches, so what is in flight to a
// replacement stays within the edge's window. The stream time and the end of stream follow the
// last of them.
void pump(LinkOut* self) {
  auto& st = self->state;
  if (!st.bound || st.peer_lost || st.gone) return;
  while (!st.pending.empty() && peer_window_open(st)) {
    const uint64_t seq = st.pending.front();
    st.pending.pop_front();
    auto it = st.window.find(seq);
    // Neither unkept nor forgotten while it waits here: only granted batches are unkept, oldest
    // first, to make room for one the current peer took; granted unreleased batches are older than
    // ungranted ones (credit is granted in order; one granted out of turn was released), and what
    // waits here goes in order, so every batch older than one the peer took was sent already. And
    // only the current peer can release it, once sent (an older epoch's releases are refused).
    assert(it != st.window.end());
    LinkOutState::Sent& sent = it->second;
    // Released meanwhile: its credit is not in flight to this peer; it goes back now, never leaks.
    if (sent.released) {
      mark_credited(st, seq, sent);
      continue;
    }
    if (sent.replay) {
      sent.replay = false;
      st.counters->batches_replayed.fetch_add(1, std::memory_order_relaxed);
      st.counters->records_replayed.fetch_add(sent.records, std::memory_order_relaxed);
    }
    send_batch(self, seq, sent);
  }
  if (!st.pending.empty()) return;
  if (st.time_due) {
    st.time_due = false;
    for (const auto& [in_port, mjd] : st.stream_time) send_stream_time(self, in_port, mjd);
  }
  if (st.ended && !st.end_sent) {
    st.end_sent = true;
    send_end(self);
  }
}

// Tells the upstream the credit given since it was last told, forgets the batches both granted
// and released, and tells the node whether the link is drained.
void grant(LinkOut* self) {
  auto& st = self->state;
  give_held_back_credit(st);
  for (uint64_t seq : st.finished) st.window.erase(seq);
  st.finished.clear();
  if (st.granting.batches > 0 && st.upstream)
    self->send(st.upstream, msg::credit_atom::value, st.granting.batches, st.granting.bytes);
  st.granting = {};
  // Drained once its upstream ended and everything sent was released: an instance does not give
  // back the last credit of a stream that ended, so credit is not waited for.
  const bool drained = st.ended && st.unreleased == 0;
  if (st.drained_told != drained) {
    st.drained_told = drained;
    self->send(st.node, drained_atom::value, drained);
  }
}

void credit(LinkOut* self, int64_t batches) {
  auto& st = self->state;
  for (int64_t i = 0; i < batches && !st.uncredited.empty(); ++i) {
    const auto [seq, bytes] = st.uncredited.front();
    st.uncredited.pop_front();
    --st.in_flight.batches;
    st.in_flight.bytes -= bytes;
    auto it = st.window.find(seq);
    if (it != st.window.end()) mark_credited(st, it->first, it->second);
  }
  pump(self);
  grant(self);
}

// Tells the upstream whether its batches now stay on this node (a failover's replacement here),
// so that an `any` edge prefers it as it prefers local instances (engine/runtime/partition.h).
void tell_locality(LinkOut* self) {
  auto& st = self->state;
  if (!st.upstream || st.local_told == st.local) return;
  // Wired as remote: only a change is news.
  if (!st.local_told && !st.local) {
    st.local_told = false;
    return;
  }
  st.local_told = st.local;
  self->send(st.upstream, msg::locality_atom::value, !st.local);
}

caf::behavior link_out(LinkOut* self, caf::actor node, std::shared_ptr<LinkCounters> counters, CreditLimits window,
                       HeldLimits held) {
  self->state.node = std::move(node);
  self->state.counters = std::move(counters);
  self->state.peer_window = window;
  self->state.max_held_bytes = held.records_bytes;
  self->state.held_tokens = HeldTokens(held.tokens_bytes);
  self->set_down_handler([self](const caf::down_msg& down) {
    auto& st = self->state;
    // A link in ends normally after the end of stream; its batches' reports come from their
    // tokens. Only a lost peer (its node gone) means they will never come.
    if (st.local || !st.peer || down.source != st.peer.address() || down.reason == caf::exit_reason::normal) return;
    // What it had not released is kept: the coordinator decides (a replacement, or abandon).
    spdlog::warn("a link to another node was lost ({}); {} batches kept for a replacement", caf::to_string(down.reason),
                 st.unreleased);
    st.peer_lost = true;
  });
  return {
      [self](peer_atom, caf::actor peer, uint64_t epoch, bool local) {
        auto& st = self->state;
        if (st.peer && !st.local) self->demonitor(st.peer);
        st.peer = std::move(peer);
        st.epoch = epoch;
        st.local = local;
        st.bound = true;
        st.peer_lost = false;
        if (!local) self->monitor(st.peer);
        // Every batch not released goes (again) to the new peer, in order, as its credit allows;
        // one released but not yet credited will get no credit from the old peer any more.
        st.uncredited.clear();
        st.in_flight = {};
        st.pending.clear();
        st.held_back.clear();  // not taken by the new peer yet
        abandon_held_tokens(st, true);  // tokens only: abandoned at the rebind
        for (auto& [seq, sent] : st.window) {
          sent.credited = false;
          if (sent.released) {
            mark_credited(st, seq, sent);
            continue;
          }
          sent.replay = sent.sent_before;  // one that came during a replay was never sent
          st.pending.push_back(seq);
        }
        st.time_due = !st.stream_time.empty();
        st.end_sent = false;
        tell_locality(self);
        pump(self);
        grant(self);
      },
      [self](abandon_atom) {
        auto& st = self->state;
        st.gone = true;
        st.held_back.clear();  // every batch is let go below, and so credited
        abandon_held_tokens(st, false);
        for (auto& [seq, sent] : st.window) {
          if (!sent.released) {
            abandon_tokens(sent.batch);
            st.counters->batches_abandoned.fetch_add(1, std::memory_order_relaxed);
          }
          sent.batch = {};
          release(st, seq, sent);  // first: a batch let go needs no keeping when credited
          mark_credited(st, seq, sent);
        }
        st.uncredited.clear();
        st.in_flight = {};
        st.pending.clear();
        grant(self);
      },
      [self](msg::data_atom, uint32_t in_port, BatchView batch, int64_t ingest_ns) {
        auto& st = self->state;
        if (!st.upstream) {
          st.upstream = caf::actor_cast<caf::actor>(self->current_sender());
          tell_locality(self);
        }
        const uint64_t seq = ++st.next_seq;
        LinkOutState::Sent& sent = st.window[seq];
        ++st.unreleased;
        for (size_t i = 0; i < batch.size(); ++i) sent.bytes += static_cast<int64_t>(record_bytes(batch[i]));
        sent.records = batch.size();
        sent.in_port = in_port;
        sent.ingest_ns = ingest_ns;
        // Kept until released and counted by its own records: a narrowed batch would keep the
        // whole batch it was narrowed from.
        sent.batch = compact_batch(batch);
        sent.kept_bytes = sent.bytes + kept_entry_bytes(sent.batch);
        batch = {};
        if (st.gone) {
          abandon_tokens(sent.batch);
          st.counters->batches_abandoned.fetch_add(1, std::memory_order_relaxed);
          sent.batch = {};
          release(st, seq, sent);  // first: a batch let go needs no keeping when credited
          mark_credited(st, seq, sent);
        } else if (st.bound && !st.peer_lost) {
          st.pending.push_back(seq);
          pump(self);
        }
        grant(self);
      },
      [self](msg::credit_atom, int64_t batches, int64_t) {
        // From a local peer (a replacement); a remote one's credit comes as lcredit.
        if (self->state.local && self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(self->state.peer))
          credit(self, batches);
      },
      [self](link_credit_atom, uint64_t epoch, int64_t batches) {
        if (self->state.local || epoch != self->state.epoch) {
          self->state.counters->messages_refused.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        credit(self, batches);
      },
      [self](released_atom, uint64_t epoch, uint64_t seq, bool abandoned) {
        auto& st = self->state;
        if (st.local || epoch != st.epoch) {
          st.counters->messages_refused.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        auto it = st.window.find(seq);
        if (it == st.window.end()) {
          // Kept as its tokens only? They go: acknowledged unless abandoned.
          const int64_t before = st.held_tokens.bytes();
          auto entry = st.held_tokens.take(seq);
          if (!entry) return;
          release_tokens(st, std::move(*entry), abandoned);
          note_held_tokens(st, before);
          grant(self);
          return;
        }
        if (it->second.released) return;
        if (abandoned) {
          abandon_tokens(it->second.batch);
          st.counters->batches_abandoned.fetch_add(1, std::memory_order_relaxed);
        }
        it->second.batch = {};  // its tokens go: acknowledged unless abandoned above
        release(self->state, seq, it->second);
        grant(self);
      },
      [self](msg::stream_time_atom, uint32_t in_port, double mjd) {
        auto& st = self->state;
        st.stream_time[in_port] = mjd;
        if (!st.bound || st.peer_lost || st.gone) return;
        // After the batches that wait for credit (it says nothing of them yet).
        if (!st.pending.empty()) st.time_due = true;
        else send_stream_time(self, in_port, mjd);
      },
      [self](msg::eos_atom) {
        auto& st = self->state;
        st.ended = true;
        st.upstream = nullptr;
        pump(self);  // sends the end once nothing waits
        grant(self);
      },
  };
}

struct LinkInState {
  caf::actor target;
  uint64_t target_index = 0;
  caf::actor run;
  caf::actor sender;  // the link out (or, local, the replacement instance)
  bool local = false;
  uint64_t epoch = 1;  // messages of an older epoch come from a fenced node: refused
  std::shared_ptr<AckScope> scope;
  std::shared_ptr<AckTracker> tracker;
  std::shared_ptr<LinkCounters> counters;
  RecordDecoder decoder;
  std::vector<RecordPtr> records;  // the parts of the batch being received
  bool broken = false;             // a part could not be decoded: the batch is dropped, abandoned
};

using LinkIn = caf::stateful_actor<LinkInState>;

// Whether a message of `epoch` is accepted; a newer epoch is a new sender (after a failover).
bool accept(LinkIn* self, uint64_t epoch) {
  auto& st = self->state;
  if (epoch < st.epoch || st.local) {
    st.counters->messages_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (epoch > st.epoch || !st.sender) {
    st.epoch = epoch;
    st.sender = caf::actor_cast<caf::actor>(self->current_sender());
    st.records.clear();
    st.broken = false;
  }
  return true;
}

AckRef remote_token(LinkInState& st, uint64_t records, uint64_t seq, uint64_t source_seq) {
  return stand_in_token(st.tracker, records, st.sender, st.scope, st.epoch, seq, source_seq);
}

void end_stream(LinkIn* self) {
  self->send(self->state.target, msg::eos_atom::value);
  self->state.target = nullptr;
  self->state.run = nullptr;
  self->quit();
}

caf::behavior link_in(LinkIn* self, caf::actor target, uint64_t target_index, caf::actor run,
                      std::shared_ptr<AckScope> scope, std::shared_ptr<LinkCounters> counters) {
  auto& st = self->state;
  st.target = std::move(target);
  st.target_index = target_index;
  st.run = std::move(run);
  st.scope = scope;
  st.counters = std::move(counters);
  // No scope: its tokens stand in for the sending node's, which count what is abandoned, and
  // their release function alone reads the scope (remote_token).
  st.tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, nullptr);
  return {
      [self](records_atom, uint64_t epoch, uint64_t seq, uint32_t in_port, uint8_t batch_type,
             const std::string& types, const std::string& bytes, int64_t ingest_wall, uint64_t source_seq, bool last) {
        if (!accept(self, epoch)) return;
        auto& st = self->state;
        if (!st.broken) {
          try {
            st.decoder.decode(types, bytes, "a batch from another node", st.records);
          } catch (const std::exception& e) {
            st.broken = true;
            self->send(st.run, msg::fault_atom::value, st.target_index,
                       std::string("a batch from another node cannot be decoded: ") + e.what(), true);
          }
        }
        if (!last) return;
        if (st.broken) {
          self->send(st.sender, released_atom::value, st.epoch, seq, true);
          st.records.clear();
          st.broken = false;
          return;
        }
        std::vector<AckRef> acks{remote_token(st, st.records.size(), seq, source_seq)};
        BatchView batch = BatchView::make(static_cast<PortType>(batch_type), std::move(st.records), std::move(acks));
        st.records.clear();
        const int64_t ingest_ns = steady_ns() - std::max<int64_t>(0, wall_ns() - ingest_wall);
        self->send(st.target, msg::data_atom::value, in_port, std::move(batch), ingest_ns);
      },
      [self](link_time_atom, uint64_t epoch, uint32_t in_port, double mjd) {
        if (accept(self, epoch)) self->send(self->state.target, msg::stream_time_atom::value, in_port, mjd);
      },
      [self](link_eos_atom, uint64_t epoch) {
        if (accept(self, epoch)) end_stream(self);
      },
      // A local replacement of the lost upstream instance (after fence): batches pass as they are.
      [self](msg::data_atom, uint32_t in_port, BatchView batch, int64_t ingest_ns) {
        self->state.local = true;
        self->state.sender = caf::actor_cast<caf::actor>(self->current_sender());
        self->send(self->state.target, msg::data_atom::value, in_port, std::move(batch), ingest_ns);
      },
      [self](msg::stream_time_atom, uint32_t in_port, double mjd) {
        self->send(self->state.target, msg::stream_time_atom::value, in_port, mjd);
      },
      [self](msg::eos_atom) { end_stream(self); },
      [self](msg::credit_atom, int64_t batches, int64_t bytes) {
        auto& st = self->state;
        if (!st.sender) return;
        if (st.local) self->send(st.sender, msg::credit_atom::value, batches, bytes);
        else self->send(st.sender, link_credit_atom::value, st.epoch, batches);
      },
      [self](fence_atom, uint64_t epoch) {
        auto& st = self->state;
        if (epoch <= st.epoch) return;
        st.epoch = epoch;
        st.sender = nullptr;
        st.records.clear();
        st.broken = false;
      },
  };
}

}  // namespace

AckRef stand_in_token(std::shared_ptr<AckTracker> tracker, uint64_t records, caf::actor sender,
                      std::shared_ptr<const AckScope> scope, uint64_t epoch, uint64_t seq, uint64_t source_seq) {
  return AckRef(new AckToken(std::move(tracker), records),
                StandInRelease{source_seq, [sender, scope, seq, epoch](const AckToken* token) {
                                 // Decided here once (the tracker has no scope): the sending
                                 // node's tokens count the records if abandoned.
                                 const bool abandoned = token->abandoned() || (scope && scope->torn_down());
                                 delete token;
                                 caf::anon_send(sender, released_atom::value, epoch, seq, abandoned);
                               }});
}

HeldLimits held_limits(int64_t credit_bytes, int64_t tokens_bytes) {
  constexpr int64_t kWindows = 8;
  constexpr int64_t kUnlimitedWindow = Workflow::kDefaultCreditWindowBytes;
  const int64_t window = credit_bytes > 0 ? credit_bytes : kUnlimitedWindow;
  return {kWindows * window, tokens_bytes > 0 ? tokens_bytes : window};
}

caf::actor spawn_link_out(caf::actor_system& system, caf::actor node, std::shared_ptr<LinkCounters> counters,
                          CreditLimits window, HeldLimits held) {
  return system.spawn(link_out, std::move(node), std::move(counters), window, held);
}

caf::actor spawn_link_in(caf::actor_system& system, caf::actor target, uint64_t target_index, caf::actor run,
                         std::shared_ptr<AckScope> scope, std::shared_ptr<LinkCounters> counters) {
  return system.spawn(link_in, std::move(target), target_index, std::move(run), std::move(scope), std::move(counters));
}

}  // namespace ebs::cluster
