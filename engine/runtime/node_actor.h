// One instance of a graph node as a CAF actor. It owns the instance's ActorLogic and implements
// the protocol around it: bounded inboxes through credits, end of stream, dead letters,
// accounting. See docs/architecture.md.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "engine/runtime/actor_logic.h"
#include "engine/runtime/actor_stats.h"
#include "engine/runtime/credit_window.h"
#include "engine/runtime/messages.h"
#include "engine/runtime/offer_schedule.h"
#include "engine/runtime/partition.h"

namespace ebs {

// One downstream instance of an output port.
struct DownstreamInstance {
  caf::actor handle;
  uint32_t in_port = 0;
  CreditWindow credit;  // what it may still receive
  bool remote = false;  // on another node (handle is the link that stands for it)
};

// All instances of one downstream actor, and how batches reach them (engine/runtime/partition.h).
struct Subscriber {
  std::vector<DownstreamInstance> instances;
  PartitionMode mode = PartitionMode::any;
  double stream_mjd_tai = -INFINITY;  // keyed: the latest alert time sent to any instance
};

struct OutputPort {
  std::vector<Subscriber> subscribers;
};

struct NodeSetup {
  ActorContext context;
  std::shared_ptr<ActorLogic> logic;
  std::shared_ptr<ActorStats> stats;
  std::vector<OutputPort> outputs;  // declared outputs, then dead_letters last
  size_t expected_upstreams = 0;    // upstream instances that will each send end of stream
  caf::actor run;                   // told (done, index) when this instance has finished
  uint64_t index = 0;
  CreditLimits credit;              // in flight per edge
  // Sinks (no output of theirs is read): measure each record's latency when they release it.
  bool measure_latency = false;
  OfferRate offer;                  // sources: this instance's share of `rate:` and `burst:`
};

class NodeActor : public caf::event_based_actor, private Emitter {
 public:
  NodeActor(caf::actor_config& config, NodeSetup setup);
  caf::behavior make_behavior() override;
  // Also when the run kills the instance (a teardown): drops every handle and batch it holds, so
  // that no reference cycle keeps actors alive and held tokens are released (abandoned).
  void on_exit() override;

 private:
  struct Upstream {
    caf::strong_actor_ptr handle;
    CreditGrant grant;
  };
  using Clock = std::chrono::steady_clock;
  struct Pending {
    size_t upstream;
    uint32_t in_port;
    BatchView batch;
    int64_t bytes;  // record_bytes of its records: what the credit it frees is worth
    double stream_time = NAN;  // not NaN: no batch, the stream's clock (kept in order with them)
    Clock::time_point ingest;
  };

  // Emitter
  void forward(size_t port, BatchView batch) override;
  void emit(size_t port, BatchView batch) override;
  void filtered(size_t records) override;
  void failed(const RecordPtr& record, const Fault& fault, const std::vector<AckRef>& acks) override;
  void failed_raw(std::string original, std::string original_format, const Fault& fault,
                  const std::vector<AckRef>& acks) override;
  void read(size_t records) override;
  void delivered(size_t records) override;
  void abort_run(const Fault& fault) override;
  void progress(uint64_t done, uint64_t total) override;

  void on_data(uint32_t in_port, BatchView batch, Clock::time_point ingest);
  void on_stream_time(uint32_t in_port, double mjd_tai);
  void on_credit(const Credit& credit);
  void on_end_of_stream_from_upstream();
  void pump();
  void produce();
  void schedule_produce(std::chrono::microseconds after);
  std::optional<std::chrono::microseconds> offer_wait(size_t& max_records);
  Clock::time_point ingest_of_output(size_t records);
  void tick();
  bool has_credit() const;
  void send_to_port(size_t port, BatchView batch, Clock::time_point ingest);
  void add_dead_letter(std::shared_ptr<DeadLetter> letter, const std::vector<AckRef>& acks);
  void flush_dead_letters();
  void fail_batch(const BatchView& batch, const Fault& fault);
  void report_fault(const std::string& what, bool abort = false);
  template <class F>
  void guarded(F&& body, const BatchView* batch);
  void finish();
  size_t upstream_of_sender();

  NodeSetup setup_;
  ActorLogic& logic_;
  ActorStats& stats_;
  size_t dead_letter_port_;
  std::vector<Upstream> upstreams_;
  std::deque<Pending> inbox_;
  size_t ended_upstreams_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool produce_scheduled_ = false;
  // Rate-limited sources: the schedule, its start and the records offered so far.
  OfferSchedule schedule_;
  std::optional<Clock::time_point> offer_start_;
  uint64_t offered_ = 0;
  // The ingest time of the input batch being handled: what batches sent meanwhile carry. Batches
  // sent outside any input (a tick, the end of the stream) carry the oldest ingest time of the
  // inputs handled since the last batch sent.
  std::optional<Clock::time_point> current_ingest_;
  std::optional<Clock::time_point> oldest_since_sent_;
  std::vector<RecordPtr> dead_letters_;
  std::vector<AckRef> dead_letter_acks_;
};

}  // namespace ebs
