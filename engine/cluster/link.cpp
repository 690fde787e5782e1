#include "engine/cluster/link.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>

#include "engine/cluster/messages.h"
#include "engine/model/record_bytes.h"
#include "engine/model/record_wire.h"
#include "engine/runtime/messages.h"

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

struct LinkOutState {
  caf::actor peer;
  caf::actor upstream;
  uint64_t next_seq = 0;
  std::map<uint64_t, std::vector<AckRef>> held;  // sent, not yet released by the receiving node
  std::deque<int64_t> sent_bytes;                // what the upstream spent per batch not yet granted back
  bool ended = false;
  std::shared_ptr<LinkCounters> counters;
  const char* name = "link-out";
};

void abandon_all(LinkOutState& state) {
  for (auto& [seq, acks] : state.held) {
    for (const AckRef& a : acks)
      if (a) a->abandon();
    state.counters->batches_abandoned.fetch_add(1, std::memory_order_relaxed);
  }
  state.held.clear();
}

caf::behavior link_out(caf::stateful_actor<LinkOutState>* self, std::shared_ptr<LinkCounters> counters) {
  self->state.counters = std::move(counters);
  auto finish_if_done = [self] {
    if (self->state.ended && self->state.held.empty()) self->quit();
  };
  self->set_down_handler([self, finish_if_done](const caf::down_msg& down) {
    // A link in ends normally after the end of stream; its batches' reports come from their
    // tokens. Only a lost peer (its node gone) means they will never come.
    if (down.source != self->state.peer.address() || down.reason == caf::exit_reason::normal) return;
    // The receiving node is gone: what it had not handled is not acknowledged.
    spdlog::error("a link to another node was lost: {}", caf::to_string(down.reason));
    abandon_all(self->state);
    self->state.peer = nullptr;
    finish_if_done();
  });
  return {
      [self](peer_atom, caf::actor peer) {
        self->monitor(peer);
        self->state.peer = std::move(peer);
      },
      [self](msg::data_atom, uint32_t in_port, BatchView batch, int64_t ingest_ns) {
        auto& st = self->state;
        if (!st.upstream) st.upstream = caf::actor_cast<caf::actor>(self->current_sender());
        const uint64_t seq = ++st.next_seq;
        int64_t bytes = 0;
        std::string types;
        std::vector<std::string> encodings;
        size_t part_bytes = 0;
        const int64_t ingest_wall = wall_ns() - (steady_ns() - ingest_ns);
        auto send_part = [&](bool last) {
          st.counters->messages_sent.fetch_add(1, std::memory_order_relaxed);
          st.counters->bytes_sent.fetch_add(part_bytes, std::memory_order_relaxed);
          if (st.peer)
            self->send(st.peer, records_atom::value, seq, in_port, static_cast<uint8_t>(batch.type()), std::move(types),
                       std::move(encodings), ingest_wall, last);
          types.clear();
          encodings.clear();
          part_bytes = 0;
        };
        for (size_t i = 0; i < batch.size(); ++i) {
          const Record& record = batch[i];
          bytes += static_cast<int64_t>(record_bytes(record));
          std::string encoded = encode_record(record);
          if (!encodings.empty() && part_bytes + encoded.size() > kMaxMessageBytes) send_part(false);
          part_bytes += encoded.size();
          types.push_back(static_cast<char>(record.type()));
          encodings.push_back(std::move(encoded));
        }
        send_part(true);
        st.counters->batches_sent.fetch_add(1, std::memory_order_relaxed);
        st.sent_bytes.push_back(bytes);
        if (st.peer) st.held.emplace(seq, batch.acks());
        else for (const AckRef& a : batch.acks()) if (a) a->abandon();
      },
      [self](msg::credit_atom, int64_t batches, int64_t) {
        auto& st = self->state;
        int64_t bytes = 0;
        for (int64_t i = 0; i < batches && !st.sent_bytes.empty(); ++i) {
          bytes += st.sent_bytes.front();
          st.sent_bytes.pop_front();
        }
        if (st.upstream) self->send(st.upstream, msg::credit_atom::value, batches, bytes);
      },
      [self](msg::stream_time_atom, uint32_t in_port, double mjd) {
        if (self->state.peer) self->send(self->state.peer, msg::stream_time_atom::value, in_port, mjd);
      },
      [self, finish_if_done](msg::eos_atom) {
        if (self->state.peer) self->send(self->state.peer, msg::eos_atom::value);
        self->state.ended = true;
        self->state.upstream = nullptr;
        finish_if_done();
      },
      [self, finish_if_done](released_atom, uint64_t seq, bool abandoned) {
        auto it = self->state.held.find(seq);
        if (it == self->state.held.end()) return;
        if (abandoned) {
          for (const AckRef& a : it->second)
            if (a) a->abandon();
          self->state.counters->batches_abandoned.fetch_add(1, std::memory_order_relaxed);
        }
        self->state.held.erase(it);
        finish_if_done();
      },
  };
}

struct LinkInState {
  caf::actor target;
  uint64_t target_index = 0;
  caf::actor run;
  caf::actor sender;  // the link out
  std::shared_ptr<AckScope> scope;
  std::shared_ptr<AckTracker> tracker;
  std::vector<RecordPtr> records;  // the parts of the batch being received
  bool broken = false;             // a part could not be decoded: the batch is dropped, abandoned
};

// The token of a batch received from another node: its last release reports to the link out.
AckRef remote_token(LinkInState& st, uint64_t records, uint64_t seq) {
  caf::actor sender = st.sender;
  std::shared_ptr<const AckScope> scope = st.scope;
  return AckRef(new AckToken(st.tracker, records), [sender, scope, seq](const AckToken* token) {
    const bool abandoned = token->abandoned() || (scope && scope->torn_down());
    delete token;
    caf::anon_send(sender, released_atom::value, seq, abandoned);
  });
}

caf::behavior link_in(caf::stateful_actor<LinkInState>* self, caf::actor target, uint64_t target_index, caf::actor run,
                      std::shared_ptr<AckScope> scope) {
  auto& st = self->state;
  st.target = std::move(target);
  st.target_index = target_index;
  st.run = std::move(run);
  st.scope = scope;
  st.tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, scope);
  return {
      [self](records_atom, uint64_t seq, uint32_t in_port, uint8_t batch_type, const std::string& types,
             const std::vector<std::string>& encodings, int64_t ingest_wall, bool last) {
        auto& st = self->state;
        if (!st.sender) st.sender = caf::actor_cast<caf::actor>(self->current_sender());
        if (!st.broken) {
          try {
            for (size_t i = 0; i < encodings.size(); ++i)
              st.records.push_back(decode_record(static_cast<PortType>(types[i]), encodings[i], "a batch from another node"));
          } catch (const std::exception& e) {
            st.broken = true;
            self->send(st.run, msg::fault_atom::value, st.target_index,
                       std::string("a batch from another node cannot be decoded: ") + e.what(), true);
          }
        }
        if (!last) return;
        if (st.broken) {
          self->send(st.sender, released_atom::value, seq, true);
          st.records.clear();
          st.broken = false;
          return;
        }
        std::vector<AckRef> acks{remote_token(st, st.records.size(), seq)};
        BatchView batch = BatchView::make(static_cast<PortType>(batch_type), std::move(st.records), std::move(acks));
        st.records.clear();
        const int64_t ingest_ns = steady_ns() - std::max<int64_t>(0, wall_ns() - ingest_wall);
        self->send(st.target, msg::data_atom::value, in_port, std::move(batch), ingest_ns);
      },
      [self](msg::credit_atom, int64_t batches, int64_t bytes) {
        if (self->state.sender) self->send(self->state.sender, msg::credit_atom::value, batches, bytes);
      },
      [self](msg::stream_time_atom, uint32_t in_port, double mjd) {
        self->send(self->state.target, msg::stream_time_atom::value, in_port, mjd);
      },
      [self](msg::eos_atom) {
        self->send(self->state.target, msg::eos_atom::value);
        self->state.target = nullptr;
        self->state.run = nullptr;
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_link_out(caf::actor_system& system, std::shared_ptr<LinkCounters> counters) {
  return system.spawn(link_out, std::move(counters));
}

caf::actor spawn_link_in(caf::actor_system& system, caf::actor target, uint64_t target_index, caf::actor run,
                         std::shared_ptr<AckScope> scope) {
  return system.spawn(link_in, std::move(target), target_index, std::move(run), std::move(scope));
}

}  // namespace ebs::cluster
