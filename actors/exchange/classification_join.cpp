// `classification-join`: other brokers' classifications joined to our alerts as annotations.
//
// Which side comes first: usually our alert (a broker classifies after it received the same
// survey alert, seconds to minutes later), but not always (our own pipeline may lag behind a fast
// broker, or replay). So both sides wait, each bounded:
//  - a classification whose alert has not come yet waits in `pending` (at most max_pending
//    records and max_pending_bytes, and pending_seconds); evicted, it leaves on `unmatched`
//    (counted: "never matched");
//  - a classification for an alert that already went on leaves on `unmatched` at once (counted:
//    "late"); the join remembers the last remember_alerts alert ids for this;
//  - an alert waits only when `wait_for` names brokers: until each has classified it, at most
//    hold_seconds and max_held_alerts; then it goes on with what it has.
// Every record leaves: alerts on `out` (annotated), classifications merged into an alert are
// consumed (counted filtered; their acknowledgements ride with the alert), the others on
// `unmatched`. At the end of the stream held alerts go on and pending classifications leave on
// `unmatched`. A restart loses nothing that was not acknowledged: held and pending records keep
// their sources' acknowledgements.
#include <chrono>
#include <deque>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "actors/exchange/class_map.h"
#include "actors/exchange/exchange_actors.h"
#include "engine/model/record_bytes.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::exchange {

namespace {

using Clock = std::chrono::steady_clock;

class ClassificationJoin final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    if (context.parallelism > 1)
      fail(c.place("wait_for"), "classification-join keeps one table of both streams: parallelism must be 1");
    actor_ = context.actor_id;
    if (c.has("wait_for"))
      for (const std::string& b : c.strings("wait_for")) wait_for_.insert(b);
    hold_ = std::chrono::milliseconds(static_cast<int64_t>(c.number("hold_seconds") * 1000));
    pending_age_ = std::chrono::milliseconds(static_cast<int64_t>(c.number("pending_seconds") * 1000));
    max_held_ = static_cast<size_t>(c.integer("max_held_alerts"));
    max_pending_ = static_cast<size_t>(c.integer("max_pending"));
    max_pending_bytes_ = static_cast<size_t>(c.bytes("max_pending_bytes"));
    remember_ = static_cast<size_t>(c.integer("remember_alerts"));
  }

  void on_batch(size_t port, const BatchView& batch, Emitter& out) override {
    Outgoing outgoing;
    const auto now = Clock::now();
    if (port == 0) {
      for (size_t i = 0; i < batch.size(); ++i) on_alert(std::static_pointer_cast<const Alert>(batch.record(i)), batch.acks(), now, outgoing);
    } else {
      for (size_t i = 0; i < batch.size(); ++i)
        on_classification(std::static_pointer_cast<const Classification>(batch.record(i)), batch.acks(), now, outgoing, out);
    }
    expire(now, outgoing);
    send(outgoing, out);
  }

  std::chrono::microseconds tick_interval() const override { return std::chrono::milliseconds(250); }
  void on_tick(Emitter& out) override {
    Outgoing outgoing;
    expire(Clock::now(), outgoing);
    send(outgoing, out);
  }

  void on_end_of_stream(Emitter& out) override {
    Outgoing outgoing;
    while (!held_order_.empty()) release_oldest_held(outgoing);
    while (!pending_order_.empty()) evict_oldest_pending(outgoing, never_matched_);
    send(outgoing, out);
  }

  std::vector<std::string> closing_warnings() const override {
    std::vector<std::string> w;
    if (never_matched_)
      w.push_back(std::to_string(never_matched_) + " classifications never met their alert (left on `unmatched`)");
    if (late_) w.push_back(std::to_string(late_) + " classifications came after their alert had gone on (left on `unmatched`)");
    if (incomplete_)
      w.push_back(std::to_string(incomplete_) + " alerts went on before every broker of wait_for had classified them");
    return w;
  }

 private:
  struct Pending {
    uint64_t serial;
    std::shared_ptr<const Classification> record;
    std::vector<AckRef> acks;
    size_t bytes;
    Clock::time_point arrived;
  };
  struct Held {
    std::shared_ptr<const Alert> alert;
    std::vector<AckRef> acks;
    std::set<std::string> brokers;  // that classified it so far
    Clock::time_point deadline;
  };
  struct Outgoing {
    std::vector<RecordPtr> alerts;
    std::vector<AckRef> alert_acks;
    std::vector<RecordPtr> unmatched;
    std::vector<AckRef> unmatched_acks;
    size_t consumed = 0;  // classifications merged into alerts
  };

  static void add_acks(std::vector<AckRef>& to, const std::vector<AckRef>& acks) { to.insert(to.end(), acks.begin(), acks.end()); }

  bool complete(const std::set<std::string>& brokers) const {
    for (const std::string& b : wait_for_)
      if (!brokers.count(b)) return false;
    return true;
  }

  void on_alert(std::shared_ptr<const Alert> alert, const std::vector<AckRef>& acks, Clock::time_point now, Outgoing& o) {
    const int64_t id = alert->core().alert_id;
    Held h{std::move(alert), acks, {}, now + hold_};
    if (auto it = pending_.find(id); it != pending_.end()) {
      for (Pending& p : it->second) {
        h.alert = h.alert->annotated(foreign_annotation(*p.record, actor_));
        h.brokers.insert(p.record->broker_name);
        add_acks(h.acks, p.acks);
        pending_bytes_ -= p.bytes;
        ++o.consumed;
      }
      stale_order_entries_ += it->second.size();  // their entries in pending_order_ are skipped when reached
      pending_.erase(it);
    }
    if (wait_for_.empty() || complete(h.brokers)) {
      forward(std::move(h), o);
      return;
    }
    if (held_.count(id)) {  // the same alert twice (a replay): the first goes on now
      release(id, o);
    }
    held_order_.push_back(id);
    held_.emplace(id, std::move(h));
    while (held_.size() > max_held_) release_oldest_held(o);
  }

  void on_classification(std::shared_ptr<const Classification> c, const std::vector<AckRef>& acks, Clock::time_point now,
                         Outgoing& o, Emitter&) {
    const int64_t id = c->alert_id;
    if (auto it = held_.find(id); it != held_.end()) {
      Held& h = it->second;
      h.alert = h.alert->annotated(foreign_annotation(*c, actor_));
      h.brokers.insert(c->broker_name);
      add_acks(h.acks, acks);
      ++o.consumed;
      if (complete(h.brokers)) release(id, o);
      return;
    }
    if (gone_.count(id)) {
      ++late_;
      o.unmatched.push_back(std::move(c));
      add_acks(o.unmatched_acks, acks);
      return;
    }
    const size_t bytes = record_bytes(*c);
    pending_order_.push_back({serial_, id});
    pending_[id].push_back({serial_++, std::move(c), acks, bytes, now});
    pending_bytes_ += bytes;
    while (pending_count() > max_pending_ || pending_bytes_ > max_pending_bytes_) evict_oldest_pending(o, never_matched_);
  }

  size_t pending_count() const { return pending_order_.size() - stale_order_entries_; }

  void expire(Clock::time_point now, Outgoing& o) {
    while (!held_order_.empty()) {
      auto it = held_.find(held_order_.front());
      if (it == held_.end()) {
        held_order_.pop_front();
        continue;
      }
      if (it->second.deadline > now) break;
      release_oldest_held(o);
    }
    while (!pending_order_.empty()) {
      const Pending* oldest = find_pending(pending_order_.front());
      if (!oldest) {
        pending_order_.pop_front();
        --stale_order_entries_;
        continue;
      }
      if (now - oldest->arrived < pending_age_) break;
      evict_oldest_pending(o, never_matched_);
    }
  }

  const Pending* find_pending(const std::pair<uint64_t, int64_t>& entry) const {
    auto it = pending_.find(entry.second);
    if (it == pending_.end()) return nullptr;
    for (const Pending& p : it->second)
      if (p.serial == entry.first) return &p;
    return nullptr;
  }

  // Drops the oldest pending classification to `unmatched` (entries of consumed ones skipped).
  void evict_oldest_pending(Outgoing& o, size_t& counter) {
    while (!pending_order_.empty()) {
      auto [serial, id] = pending_order_.front();
      pending_order_.pop_front();
      auto it = pending_.find(id);
      bool found = false;
      if (it != pending_.end()) {
        auto& list = it->second;
        for (auto p = list.begin(); p != list.end(); ++p) {
          if (p->serial != serial) continue;
          o.unmatched.push_back(p->record);
          add_acks(o.unmatched_acks, p->acks);
          pending_bytes_ -= p->bytes;
          list.erase(p);
          found = true;
          break;
        }
        if (list.empty()) pending_.erase(it);
      }
      if (found) {
        ++counter;
        return;
      }
      --stale_order_entries_;
    }
  }

  void release_oldest_held(Outgoing& o) {
    while (!held_order_.empty()) {
      int64_t id = held_order_.front();
      held_order_.pop_front();
      if (held_.count(id)) {
        release(id, o);
        return;
      }
    }
  }

  void release(int64_t id, Outgoing& o) {
    auto it = held_.find(id);
    if (!complete(it->second.brokers)) ++incomplete_;
    Held h = std::move(it->second);
    held_.erase(it);
    forward(std::move(h), o);
  }

  void forward(Held h, Outgoing& o) {
    remember(h.alert->core().alert_id);
    o.alerts.push_back(std::move(h.alert));
    add_acks(o.alert_acks, h.acks);
  }

  void remember(int64_t id) {
    if (!gone_.insert(id).second) return;
    gone_order_.push_back(id);
    while (gone_order_.size() > remember_) {
      gone_.erase(gone_order_.front());
      gone_order_.pop_front();
    }
  }

  void send(Outgoing& o, Emitter& out) {
    if (o.consumed) out.filtered(o.consumed);
    if (!o.alerts.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(o.alerts), std::move(o.alert_acks)));
    if (!o.unmatched.empty())
      out.forward(1, BatchView::make(PortType::classification, std::move(o.unmatched), std::move(o.unmatched_acks)));
  }

  std::string actor_;
  std::set<std::string> wait_for_;
  Clock::duration hold_{}, pending_age_{};
  size_t max_held_ = 0, max_pending_ = 0, max_pending_bytes_ = 0, remember_ = 0;

  std::unordered_map<int64_t, std::vector<Pending>> pending_;
  std::deque<std::pair<uint64_t, int64_t>> pending_order_;  // (serial, alert id), oldest first
  size_t stale_order_entries_ = 0;                          // entries of classifications already consumed
  size_t pending_bytes_ = 0;
  uint64_t serial_ = 0;

  std::unordered_map<int64_t, Held> held_;
  std::deque<int64_t> held_order_;

  std::unordered_set<int64_t> gone_;
  std::deque<int64_t> gone_order_;

  size_t never_matched_ = 0, late_ = 0, incomplete_ = 0;
};

}  // namespace

void register_classification_join(ActorRegistry& registry) {
  ActorType t;
  t.name = "classification-join";
  t.description = "Joins other brokers' classifications to our alerts by alert id, as annotations with the other broker's provenance (bounded waits both ways)";
  t.version = "1.0";
  t.inputs = {{"alerts", PortType::alert, "our alerts"},
              {"classifications", PortType::classification, "other brokers' classifications (classification-kafka)"}};
  t.outputs = {{"out", PortType::alert, "the alerts, annotated with every classification that met them"},
               {"unmatched", PortType::classification, "classifications whose alert never came (evicted) or had gone on (late)"}};
  t.config = {
      {"wait_for", ValueKind::list, false, "", "brokers an alert waits for (default none: an alert goes on at once with what has come)"},
      {"hold_seconds", ValueKind::number, false, "30", "the longest an alert waits for wait_for's brokers"},
      {"max_held_alerts", ValueKind::integer, false, "10000", "alerts waiting at once; the oldest goes on beyond it"},
      {"max_pending", ValueKind::integer, false, "100000", "classifications waiting for their alert; the oldest leaves on unmatched beyond it"},
      {"max_pending_bytes", ValueKind::bytes, false, "64 MiB", "the same bound in bytes"},
      {"pending_seconds", ValueKind::number, false, "600", "the longest a classification waits for its alert"},
      {"remember_alerts", ValueKind::integer, false, "100000", "ids of alerts gone on that are remembered, to tell a late classification from an early one"},
  };
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    for (const char* key : {"hold_seconds", "pending_seconds"})
      if (!(c.number(key) >= 0)) problems.push_back({c.place(key), std::string(key) + " must be >= 0"});
    for (const char* key : {"max_held_alerts", "max_pending"})
      if (c.integer(key) < 1) problems.push_back({c.place(key), std::string(key) + " must be >= 1"});
    if (c.bytes("max_pending_bytes") < 1) problems.push_back({c.place("max_pending_bytes"), "max_pending_bytes must be >= 1"});
    if (c.integer("remember_alerts") < 0) problems.push_back({c.place("remember_alerts"), "remember_alerts must be >= 0"});
  };
  t.create = [](const ActorContext&) { return std::make_unique<ClassificationJoin>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs::exchange
