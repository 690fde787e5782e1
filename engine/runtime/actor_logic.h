// What an actor type implements: the logic of one instance. The runtime wraps each instance in a
// CAF actor and handles batching, credits, acknowledgements, end of stream and accounting; the
// logic only transforms batches and says what happened to every input record.
//
// Accounting contract (checked for every actor at the end of a run):
//   records in = forwarded + filtered + failed
// A source's "in" is what it read or generated (Emitter::read). Records an actor creates
// (annotations as new streams, coincidences, retractions) count as emitted, per port.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph/actor_config.h"
#include "engine/graph/actor_type.h"
#include "engine/runtime/batch.h"
#include "engine/util/fault.h"

namespace ebs {

struct Workflow;

struct ActorContext {
  std::string actor_id;   // workflow id of the actor
  std::string type_name;
  std::string type_version;
  size_t instance = 0;    // 0 .. parallelism-1
  size_t parallelism = 1;
  ActorConfig config;
  std::string run_dir;    // relative paths in configs resolve here
  size_t batch_size = 1024;
  std::chrono::microseconds batch_delay{5000};
  const ActorType* type = nullptr;
  // The run's acknowledgements: sources make their AckTrackers with it, so that a teardown after
  // a fault abandons every token still held (engine/runtime/ack.h).
  std::shared_ptr<AckScope> acks = std::make_shared<AckScope>();
  // Work the instance does outside its records, counted from any thread (the `filters` actor's
  // outputs delivering messages): the run's drain clock sees it as progress (ActorStats::side_work).
  // Null outside a run's graph (unit tests).
  std::shared_ptr<std::atomic<uint64_t>> side_work;
  // `run --overwrite`: file sinks may truncate output a previous run wrote (docs/reliability.md).
  bool overwrite = false;
  // The whole workflow (every node's actors, in a cluster), for what an instance decides from the
  // graph (avro-files: whether anything downstream uses cutouts). Valid in `create` and `open`
  // only; null where no workflow is at hand (tests of one actor).
  const Workflow* workflow = nullptr;
};

class Emitter {
 public:
  virtual ~Emitter() = default;
  // Sends records derived one-to-one from input records (the same records, a narrowed view, or
  // annotated copies): counts them as forwarded.
  virtual void forward(size_t port, BatchView batch) = 0;
  // Sends records this actor created: counts them as emitted on `port`. The dead-letter port (index outputs.size(), after the type's declared outputs) takes DeadLetter records the actor made of its own records (a filter output's undelivered messages): counted as output_dead_letters (outside the identity), sent as failed() letters are (no ingest time of their own; tokens abandoned when nothing subscribes).
  virtual void emit(size_t port, BatchView batch) = 0;
  // Input records this actor dropped on purpose.
  virtual void filtered(size_t records) = 0;
  // An input record this actor could not handle: goes to the dead-letter port with the reason,
  // the place and the original bytes; its acknowledgement waits for the dead-letter sink.
  virtual void failed(const RecordPtr& record, const Fault& fault, const std::vector<AckRef>& acks) = 0;
  // A source's raw input that never became a record (corrupt bytes, ...).
  virtual void failed_raw(std::string original, std::string original_format, const Fault& fault,
                          const std::vector<AckRef>& acks) = 0;
  // Sources: records read or generated (the "in" of the accounting identity).
  virtual void read(size_t records) = 0;
  // Sinks: records written durably to the outside world count as forwarded.
  virtual void delivered(size_t records) = 0;
  // The actor cannot go on and the run must not either (a sink that could not write for its whole
  // stall time-out): the run is torn down, what is in flight abandoned, exit 1.
  virtual void abort_run(const Fault& fault) { throw fault; }
  // Finite sources: how far along they are, in any unit (bytes, records); `total` 0 = unknown.
  // The progress line shows % done and an ETA from it.
  virtual void progress(uint64_t done, uint64_t total) {}
};


// What a source's produce() reports.
struct ProduceResult {
  enum class State { more, idle, done } state = State::more;
  std::chrono::microseconds retry_after{0};  // for idle: when to call again
  static ProduceResult more() { return {State::more, {}}; }
  static ProduceResult idle(std::chrono::microseconds after) { return {State::idle, after}; }
  static ProduceResult done() { return {State::done, {}}; }
};

class ActorLogic {
 public:
  virtual ~ActorLogic() = default;
  // After the instance is spawned, before any record. A Fault stops the run before it starts.
  virtual void open(const ActorContext& context) {}
  // Transforms and sinks: one input batch.
  virtual void on_batch(size_t input_port, const BatchView& batch, Emitter& out) {}
  // Sources: produce up to `max_records` records.
  virtual ProduceResult produce(size_t max_records, Emitter& out) { return ProduceResult::done(); }
  // Called every tick_interval() when that is non-zero: close a batch by delay, flush a sink.
  virtual std::chrono::microseconds tick_interval() const { return std::chrono::microseconds(0); }
  virtual void on_tick(Emitter& out) {}
  // Every input has ended (or, for a source, the run is stopping): flush everything now.
  virtual void on_end_of_stream(Emitter& out) {}
  // The stream's clock on a keyed input (docs/workflow-format.md, "The stream's clock"): the
  // latest alert time the upstream has sent to any instance, delivered after each keyed batch and
  // in order with the batches. An instance that sees only some objects keeps time with all of
  // them, e.g. to expire windows as one instance would.
  virtual void on_stream_time(size_t input_port, double mjd_tai) {}
  // Transforms and sinks: false while the actor cannot take input (a stalled sink retrying its
  // writes). Batches then wait in the inbox and no credit goes back upstream, so the sources stop
  // reading: back-pressure instead of memory. Asked again after every tick.
  virtual bool accepting() const { return true; }
  // Read once the instance has ended, for the run's closing block: where a sink wrote (a file,
  // "kafka topic T", a table, a URL; its records are what it delivered), and what the user
  // should know (e.g. "7 of 8 input files were not Avro").
  virtual std::string output() const { return {}; }
  virtual std::vector<std::string> closing_warnings() const { return {}; }
};

}  // namespace ebs
