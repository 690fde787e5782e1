#include "engine/runtime/node_actor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "engine/model/record_bytes.h"
#include "engine/model/record_json.h"
#include "engine/runtime/batch_compact.h"
#include "engine/time/clock.h"

namespace ebs {

namespace {

// The same records and acknowledgements as `view`, in a batch of their own that calls `released`
// once the receiver has dropped every copy of it: how the runtime learns that a sink let go of a
// batch (wrote it durably, or gave up on it). A narrowed view is compacted first, so that the
// sink keeps only its own records.
BatchView reporting_release(const BatchView& view, std::function<void(const Batch&)> released) {
  std::shared_ptr<const Batch> batch = compact_batch(view).batch();
  if (!batch) return view;
  const Batch* raw = batch.get();
  return BatchView(std::shared_ptr<const Batch>(
      raw, [keep = std::move(batch), released = std::move(released)](const Batch* b) { released(*b); }));
}

// What a batch's records hold in memory, as the credit window counts it.
int64_t batch_bytes(const BatchView& batch) {
  int64_t bytes = 0;
  for (size_t i = 0; i < batch.size(); ++i) bytes += static_cast<int64_t>(record_bytes(batch[i]));
  return bytes;
}

// Calls `f` on every downstream instance that `handle` stands for (a message's sender).
template <typename F>
void for_each_downstream(std::vector<OutputPort>& outputs, const caf::strong_actor_ptr& handle, F&& f) {
  for (OutputPort& port : outputs)
    for (Subscriber& sub : port.subscribers)
      for (DownstreamInstance& d : sub.instances)
        if (caf::actor_cast<caf::strong_actor_ptr>(d.handle) == handle) f(d);
}

std::vector<AnyTarget> any_targets(const Subscriber& sub) {
  std::vector<AnyTarget> targets;
  targets.reserve(sub.instances.size());
  for (const DownstreamInstance& d : sub.instances) targets.push_back({&d.credit, d.remote});
  return targets;
}

}  // namespace

NodeActor::NodeActor(caf::actor_config& config, NodeSetup setup)
    : caf::event_based_actor(config),
      setup_(std::move(setup)),
      logic_(*setup_.logic),
      stats_(*setup_.stats),
      dead_letter_port_(setup_.outputs.size() - 1),
      schedule_(setup_.offer) {}

caf::behavior NodeActor::make_behavior() {
  return {
      [this](msg::start_atom) {
        if (started_) return;
        started_ = true;
        if (logic_.tick_interval().count() > 0)
          delayed_send(this, logic_.tick_interval(), msg::tick_atom::value);
        if (setup_.context.type->is_source()) schedule_produce(std::chrono::microseconds(0));
        else pump();  // end of stream may already have arrived
      },
      [this](msg::data_atom, uint32_t in_port, BatchView batch, int64_t ingest_ns) {
        on_data(in_port, std::move(batch), Clock::time_point(Clock::duration(ingest_ns)));
      },
      [this](msg::stream_time_atom, uint32_t in_port, double mjd) { on_stream_time(in_port, mjd); },
      [this](msg::credit_atom, int64_t batches, int64_t bytes) { on_credit({batches, bytes}); },
      [this](msg::locality_atom, bool remote) {
        for_each_downstream(setup_.outputs, current_sender(), [remote](DownstreamInstance& d) { d.remote = remote; });
      },
      [this](msg::eos_atom) { on_end_of_stream_from_upstream(); },
      [this](msg::produce_atom) {
        produce_scheduled_ = false;
        produce();
      },
      [this](msg::tick_atom) { tick(); },
      [this](msg::stop_atom) {
        if (!setup_.context.type->is_source() || finished_) return;
        stopping_ = true;
        schedule_produce(std::chrono::microseconds(0));
      },
  };
}

size_t NodeActor::upstream_of_sender() {
  const caf::strong_actor_ptr& sender = current_sender();
  for (size_t i = 0; i < upstreams_.size(); ++i)
    if (upstreams_[i].handle == sender) return i;
  upstreams_.push_back({sender, CreditGrant(setup_.credit)});
  return upstreams_.size() - 1;
}

void NodeActor::on_data(uint32_t in_port, BatchView batch, Clock::time_point ingest) {
  size_t upstream = upstream_of_sender();
  const int64_t bytes = batch_bytes(batch);
  inbox_.push_back({upstream, in_port, std::move(batch), bytes, NAN, ingest});
  ActorStats::add(stats_.queued_batches, 1);
  uint64_t queued = ActorStats::get(stats_.queued_batches);
  if (queued > ActorStats::get(stats_.peak_queued_batches))
    stats_.peak_queued_batches.store(queued, std::memory_order_relaxed);
  pump();
}

void NodeActor::on_stream_time(uint32_t in_port, double mjd_tai) {
  inbox_.push_back({upstream_of_sender(), in_port, {}, 0, mjd_tai, {}});
  pump();
}

void NodeActor::on_credit(const Credit& credit) {
  for_each_downstream(setup_.outputs, current_sender(), [&credit](DownstreamInstance& d) { d.credit.grant(credit); });
  if (setup_.context.type->is_source()) {
    if (!produce_scheduled_) schedule_produce(std::chrono::microseconds(0));
  } else {
    pump();
  }
}

void NodeActor::on_end_of_stream_from_upstream() {
  // The upstream has finished: drop our handle to it so no reference cycle outlives the run.
  const caf::strong_actor_ptr& sender = current_sender();
  for (Upstream& u : upstreams_)
    if (u.handle == sender) u.grant.close();  // no more credit to grant there
  ++ended_upstreams_;
  pump();
}

// A batch may go to any one instance of an unkeyed subscriber, but to each instance of a keyed or
// broadcast one: those need credit at every instance.
bool NodeActor::has_credit() const {
  for (const OutputPort& port : setup_.outputs)
    for (const Subscriber& sub : port.subscribers) {
      if (sub.mode == PartitionMode::any) {
        if (!sub.instances.empty() && !instance_for_any(any_targets(sub))) return false;
        continue;
      }
      for (const DownstreamInstance& d : sub.instances)
        if (!d.credit.open()) return false;
    }
  return true;
}

// Any exception is a Fault: with a batch, a dead letter for each of its records (the actor goes
// on); without one (a tick, the end of stream), an error of the run, which then ends with exit 1.
template <class F>
void NodeActor::guarded(F&& body, const BatchView* batch) {
  try {
    body();
  } catch (const std::exception& e) {
    Fault fault = to_fault(e, setup_.context.actor_id);
    if (batch) fail_batch(*batch, fault);
    else report_fault(fault.what());
  } catch (...) {
    Fault fault(FaultKind::failed, setup_.context.actor_id, "unexpected error: an exception of unknown type");
    if (batch) fail_batch(*batch, fault);
    else report_fault(fault.what());
  }
}

void NodeActor::report_fault(const std::string& what, bool abort) {
  spdlog::error("{}: {}", setup_.context.actor_id, what);
  if (setup_.run) send(setup_.run, msg::fault_atom::value, setup_.index, what, abort);
}

void NodeActor::abort_run(const Fault& fault) { report_fault(fault.what(), true); }

void NodeActor::pump() {
  while (!inbox_.empty() && has_credit() && logic_.accepting()) {
    Pending next = std::move(inbox_.front());
    inbox_.pop_front();
    stats_.queued_batches.store(inbox_.size(), std::memory_order_relaxed);
    if (!std::isnan(next.stream_time)) {
      guarded([&] { logic_.on_stream_time(next.in_port, next.stream_time); }, nullptr);
      flush_dead_letters();
      continue;
    }
    ActorStats::add(stats_.in, next.batch.size());
    ActorStats::add(stats_.batches_in, 1);
    BatchView batch = next.batch;
    current_ingest_ = next.ingest;
    if (!oldest_since_sent_ || next.ingest < *oldest_since_sent_) oldest_since_sent_ = next.ingest;
    if (setup_.measure_latency) {
      // Latency ends when the sink lets go of the batch: once it is durably written (a sink
      // keeps what it has not flushed or committed). Records it gave up on are not measured.
      batch = reporting_release(batch, [stats = setup_.stats, at = next.ingest, records = batch.size()](const Batch& b) {
        for (const AckRef& a : b.acks)
          if (a && a->abandoned()) return;
        stats->latency.add(Clock::now() - at, records);
      });
    }
    guarded([&] { logic_.on_batch(next.in_port, batch, *this); }, &batch);
    batch = {};
    next.batch = {};
    current_ingest_.reset();
    flush_dead_letters();
    // Credits go back every half window (credit_window.h), in batches and in bytes.
    Upstream& up = upstreams_[next.upstream];
    if (auto credit = up.grant.consume(next.bytes))
      send(caf::actor_cast<caf::actor>(up.handle), msg::credit_atom::value, credit->batches, credit->bytes);
  }
  if (!finished_ && inbox_.empty() && started_ && !setup_.context.type->is_source() &&
      ended_upstreams_ >= setup_.expected_upstreams)
    finish();
}

void NodeActor::schedule_produce(std::chrono::microseconds after) {
  if (produce_scheduled_ || finished_) return;
  produce_scheduled_ = true;
  if (after.count() <= 0)
    send(this, msg::produce_atom::value);
  else
    delayed_send(this, after, msg::produce_atom::value);
}

void NodeActor::produce() {
  if (finished_ || !started_) return;
  if (stopping_) {
    finish();
    return;
  }
  // A few batches per turn, then yield so credits and stop requests get through.
  for (int turn = 0; turn < 4; ++turn) {
    if (!has_credit()) return;  // resumed by on_credit
    size_t max_records = setup_.context.batch_size;
    if (schedule_.limited()) {
      if (auto wait = offer_wait(max_records)) {
        schedule_produce(*wait);
        return;
      }
    }
    const uint64_t offered_before = offered_;
    ProduceResult result = ProduceResult::done();
    bool ok = true;
    // Sources turn what goes wrong with one record into a dead letter and go on; what escapes
    // produce() is the source's own failure: it ends, the rest drains, the run exits 1.
    try {
      result = logic_.produce(max_records, *this);
    } catch (const std::exception& e) {
      spdlog::error("{}: source failed: {}", setup_.context.actor_id, e.what());
      stats_.fault = e.what();
      ok = false;
    } catch (...) {
      spdlog::error("{}: source failed: an exception of unknown type", setup_.context.actor_id);
      stats_.fault = "an exception of unknown type";
      ok = false;
    }
    flush_dead_letters();
    if (!ok || result.state == ProduceResult::State::done) {
      finish();
      return;
    }
    if (result.state == ProduceResult::State::idle) {
      // A live source with nothing to offer owes nothing: the slots it missed are not
      // scheduled later (its records would look late by the time it was idle).
      if (schedule_.limited() && offered_ == offered_before && offer_start_)
        offered_ = std::max(offered_, schedule_.due(std::chrono::duration<double>(
                                          std::chrono::steady_clock::now() - *offer_start_).count()));
      schedule_produce(result.retry_after);
      return;
    }
  }
  schedule_produce(std::chrono::microseconds(0));
}

void NodeActor::tick() {
  if (finished_) return;
  guarded([&] { logic_.on_tick(*this); }, nullptr);
  flush_dead_letters();
  delayed_send(this, logic_.tick_interval(), msg::tick_atom::value);
  if (!setup_.context.type->is_source()) pump();  // a stalled actor may accept input again
}

void NodeActor::send_to_port(size_t port, BatchView batch, Clock::time_point ingest) {
  if (batch.empty()) return;
  const int64_t bytes = batch_bytes(batch);
  for (Subscriber& sub : setup_.outputs[port].subscribers) {
    if (sub.instances.empty()) continue;
    const auto ingest_ns = static_cast<int64_t>(ingest.time_since_epoch().count());
    switch (sub.mode) {
      case PartitionMode::any: {
        // Without credit (a flush at the end sends what it holds): the one with the most.
        std::optional<size_t> pick = instance_for_any(any_targets(sub));
        DownstreamInstance* best = pick ? &sub.instances[*pick] : nullptr;
        if (!best)
          for (DownstreamInstance& d : sub.instances)
            if (!best || d.credit.batches() > best->credit.batches()) best = &d;
        best->credit.spend(bytes);
        send(best->handle, msg::data_atom::value, best->in_port, batch, ingest_ns);
        break;
      }
      case PartitionMode::broadcast:
        for (DownstreamInstance& d : sub.instances) {
          d.credit.spend(bytes);
          send(d.handle, msg::data_atom::value, d.in_port, batch, ingest_ns);
        }
        break;
      case PartitionMode::keyed: {
        // Each instance gets a view of its records (no copy); the batch's acknowledgements are
        // shared by the views, so they are released when the last instance is done with it.
        std::vector<std::vector<uint32_t>> parts = split_by_key(batch, sub.instances.size());
        for (size_t i = 0; i < parts.size(); ++i) {
          if (parts[i].empty()) continue;
          BatchView part = parts[i].size() == batch.size() ? batch : batch.select(parts[i]);
          DownstreamInstance& d = sub.instances[i];
          d.credit.spend(parts[i].size() == batch.size() ? bytes : batch_bytes(part));
          send(d.handle, msg::data_atom::value, d.in_port, std::move(part), ingest_ns);
        }
        double latest = latest_record_time(batch);
        if (latest > sub.stream_mjd_tai) {
          sub.stream_mjd_tai = latest;
          for (DownstreamInstance& d : sub.instances)
            send(d.handle, msg::stream_time_atom::value, d.in_port, latest);
        }
        break;
      }
    }
  }
}

// The ingest time a batch sent now carries (docs/performance.md). A source's: now, or for a
// paced source the scheduled offer time of the batch's first record (never in the future). Any
// other actor's: the input being handled, else (a tick, the end of the stream) the oldest input
// handled since it last sent a batch, else now.
NodeActor::Clock::time_point NodeActor::ingest_of_output(size_t records) {
  const auto now = Clock::now();
  if (setup_.context.type->is_source()) {
    auto at = now;
    if (schedule_.limited() && offer_start_)
      at = std::min(now, *offer_start_ + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(schedule_.offer_time(offered_))));
    offered_ += records;
    return at;
  }
  auto at = current_ingest_ ? *current_ingest_ : oldest_since_sent_ ? *oldest_since_sent_ : now;
  oldest_since_sent_.reset();
  return at;
}

// Whether a rate-limited source waits before producing, and how long; otherwise how many records
// it may offer now: a full batch when one is due, or what is due once the oldest due record has
// waited batch_delay (as a source closes a batch that trickles in).
std::optional<std::chrono::microseconds> NodeActor::offer_wait(size_t& max_records) {
  auto now = std::chrono::steady_clock::now();
  if (!offer_start_) offer_start_ = now;
  const double elapsed = std::chrono::duration<double>(now - *offer_start_).count();
  const uint64_t due = schedule_.due(elapsed);
  const uint64_t ready = due > offered_ ? due - offered_ : 0;
  const double oldest = schedule_.offer_time(offered_);
  const double delay = std::chrono::duration<double>(setup_.context.batch_delay).count();
  if (ready >= max_records || (ready > 0 && elapsed >= oldest + delay)) {
    max_records = static_cast<size_t>(std::min<uint64_t>(max_records, ready));
    return std::nullopt;
  }
  const double wake = std::min(schedule_.offer_time(offered_ + max_records - 1), oldest + delay);
  return std::chrono::microseconds(std::max<int64_t>(1, static_cast<int64_t>((wake - elapsed) * 1e6)));
}

void NodeActor::forward(size_t port, BatchView batch) {
  ActorStats::add(stats_.forwarded, batch.size());
  const auto ingest = ingest_of_output(batch.size());
  send_to_port(port, std::move(batch), ingest);
}

void NodeActor::emit(size_t port, BatchView batch) {
  if (port < stats_.emitted.size()) ActorStats::add(stats_.emitted[port], batch.size());
  if (port == dead_letter_port_ && batch.type() == PortType::dead_letter) {
    // Letters the actor made of its own records (not of input records): counted apart from the
    // identity's `failed` (ActorStats::output_dead_letters).
    ActorStats::add(stats_.dead_letters, batch.size());
    ActorStats::add(stats_.output_dead_letters, batch.size());
    for (size_t i = 0; i < batch.size(); ++i)
      ++stats_.dead_letter_reasons[static_cast<const DeadLetter&>(batch[i]).reason.substr(0, 160)];
    // Sent as the actor's own dead letters are: not offered records (no ingest time of their own,
    // a source's schedule not advanced), their tokens abandoned when nothing subscribes.
    for (size_t i = 0; i < batch.size(); ++i) dead_letters_.push_back(batch.record(i));
    for (const AckRef& a : batch.acks())
      if (dead_letter_acks_.empty() || dead_letter_acks_.back() != a) dead_letter_acks_.push_back(a);
    return flush_dead_letters();
  }
  const auto ingest = ingest_of_output(batch.size());
  send_to_port(port, std::move(batch), ingest);
}

void NodeActor::filtered(size_t records) { ActorStats::add(stats_.filtered, records); }
void NodeActor::read(size_t records) { ActorStats::add(stats_.in, records); }
void NodeActor::delivered(size_t records) { ActorStats::add(stats_.forwarded, records); }
void NodeActor::progress(uint64_t done, uint64_t total) {
  stats_.progress_total.store(total, std::memory_order_relaxed);
  stats_.progress_done.store(done, std::memory_order_relaxed);
}

void NodeActor::add_dead_letter(std::shared_ptr<DeadLetter> letter, const std::vector<AckRef>& acks) {
  letter->actor = setup_.context.actor_id;
  letter->mjd_tai = time::now_mjd_tai();
  ActorStats::add(stats_.failed, 1);
  ActorStats::add(stats_.dead_letters, 1);
  ++stats_.dead_letter_reasons[letter->reason.substr(0, 160)];
  dead_letters_.push_back(std::move(letter));
  for (const AckRef& a : acks)
    if (dead_letter_acks_.empty() || dead_letter_acks_.back() != a) dead_letter_acks_.push_back(a);
}

void NodeActor::failed(const RecordPtr& record, const Fault& fault, const std::vector<AckRef>& acks) {
  auto letter = std::make_shared<DeadLetter>();
  letter->kind = std::string(to_string(fault.kind()));
  letter->reason = fault.message();
  letter->place = fault.place();
  letter->original = to_json(*record, {.with_bytes = true}).dump();
  letter->original_format = "json";
  add_dead_letter(std::move(letter), acks);
}

void NodeActor::failed_raw(std::string original, std::string original_format, const Fault& fault,
                           const std::vector<AckRef>& acks) {
  auto letter = std::make_shared<DeadLetter>();
  letter->kind = std::string(to_string(fault.kind()));
  letter->reason = fault.message();
  letter->place = fault.place();
  letter->original = std::move(original);
  letter->original_format = std::move(original_format);
  add_dead_letter(std::move(letter), acks);
}

void NodeActor::fail_batch(const BatchView& batch, const Fault& fault) {
  for (size_t i = 0; i < batch.size(); ++i) failed(batch.record(i), fault, batch.acks());
}

void NodeActor::flush_dead_letters() {
  if (dead_letters_.empty()) return;
  auto batch = BatchView::make(PortType::dead_letter, std::move(dead_letters_), std::move(dead_letter_acks_));
  dead_letters_.clear();
  dead_letter_acks_.clear();
  if (setup_.outputs[dead_letter_port_].subscribers.empty()) {
    // Only the dead-letter sink itself has nowhere to send: its failures are errors of the run,
    // and the records they carry were not handled, so their acknowledgements are abandoned.
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& letter = static_cast<const DeadLetter&>(batch[i]);
      report_fault("dead letter lost: " + letter.place + ": " + letter.reason);
    }
    for (const AckRef& a : batch.acks()) a->abandon();
    return;
  }
  // Dead letters are not offered records: a source's do not advance its schedule.
  send_to_port(dead_letter_port_, std::move(batch),
               current_ingest_ ? *current_ingest_ : oldest_since_sent_ ? *oldest_since_sent_ : Clock::now());
}

void NodeActor::on_exit() {
  // What the logic still holds (a sink's unwritten records, held events) lets go with it: its
  // run's owner drops its own handle to count what was abandoned (docs/cluster.md).
  setup_.logic.reset();
  setup_.outputs.clear();
  setup_.run = nullptr;
  upstreams_.clear();
  inbox_.clear();
  dead_letters_.clear();
  dead_letter_acks_.clear();
}

void NodeActor::finish() {
  if (finished_) return;
  finished_ = true;
  guarded([&] { logic_.on_end_of_stream(*this); }, nullptr);
  flush_dead_letters();
  for (OutputPort& port : setup_.outputs)
    for (Subscriber& sub : port.subscribers)
      for (DownstreamInstance& d : sub.instances) send(d.handle, msg::eos_atom::value);
  // Release every handle now: strong handles both ways would otherwise keep actors alive.
  setup_.outputs.clear();
  upstreams_.clear();
  send(setup_.run, msg::done_atom::value, setup_.index);
  setup_.run = nullptr;
  quit();
}

}  // namespace ebs
