#include "engine/runtime/engine.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <thread>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/builtin_modules.h"
#include "engine/runtime/actor_logic.h"

using namespace ebs;
namespace fs = std::filesystem;

namespace {

// A source whose acknowledgements the test can watch: how far ahead of the slowest sink can
// it run? Credits must bound that.
struct Watch {
  std::atomic<uint64_t> max_outstanding_batches{0};
  std::shared_ptr<AckTracker> tracker = std::make_shared<AckTracker>();
};

class WatchedSource final : public ActorLogic {
 public:
  WatchedSource(Watch* watch, uint64_t total, size_t record_bytes = 0)
      : watch_(watch), total_(total), record_bytes_(record_bytes) {}
  ProduceResult produce(size_t max_records, Emitter& out) override {
    uint64_t outstanding = watch_->tracker->issued() - watch_->tracker->acknowledged_through();
    if (outstanding > watch_->max_outstanding_batches) watch_->max_outstanding_batches = outstanding;
    size_t n = static_cast<size_t>(std::min<uint64_t>(max_records, total_ - made_));
    std::vector<RecordPtr> records;
    for (size_t i = 0; i < n; ++i) {
      auto d = std::make_shared<DeadLetter>();
      d->reason = "record " + std::to_string(made_ + i);
      d->original.assign(record_bytes_, 'x');  // a huge record when asked
      records.push_back(std::move(d));
    }
    made_ += n;
    out.read(n);
    out.forward(0, BatchView::make(PortType::dead_letter, std::move(records),
                                   {std::make_shared<const AckToken>(watch_->tracker, n)}));
    return made_ >= total_ ? ProduceResult::done() : ProduceResult::more();
  }

 private:
  Watch* watch_;
  uint64_t total_;
  size_t record_bytes_;
  uint64_t made_ = 0;
};

// Fails every third batch by throwing: the runtime must dead-letter the whole batch.
class Flaky final : public ActorLogic {
 public:
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    if (++batches_ % 3 == 0) fail("flaky batch " + std::to_string(batches_), "simulated failure");
    out.forward(0, batch);
  }

 private:
  int batches_ = 0;
};

// Throws what a poisoned input makes a library throw: not a Fault.
class ThrowsLengthError final : public ActorLogic {
 public:
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    if (++batches_ % 2 == 0) std::vector<double>(static_cast<size_t>(1) << 62);  // std::length_error
    out.forward(0, batch);
  }

 private:
  int batches_ = 0;
};

// A sink that stalls for good after three batches, as a sink that could not write does: it takes
// no more input (so credits hold the source back, whatever the machine's load) and aborts the run.
class GivesUp final : public ActorLogic {
 public:
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    held_.push_back(batch);
    if (held_.size() == 3) out.abort_run(Fault(FaultKind::failed, "gives-up", "cannot go on"));
  }
  // As that sink, it takes no more input once it gave up: without this, credits kept flowing back
  // until the run loop noticed the fault, and on a loaded machine the source could issue more
  // than the bound below before the teardown.
  bool accepting() const override { return held_.size() < 3; }

 private:
  std::vector<BatchView> held_;
};

// What each instance of a keyed actor saw: the objects of its alerts and its stream clock.
struct KeyedSeen {
  std::mutex mutex;
  std::map<size_t, std::set<std::string>> objects;  // by instance
  std::map<size_t, double> clock;                   // by instance: the last on_stream_time
  std::map<size_t, size_t> alerts;
  double latest_alert = -INFINITY;                   // over all instances
  bool clock_went_back = false;
};

class KeepsObjects final : public ActorLogic {
 public:
  KeepsObjects(KeyedSeen* seen, size_t instance) : seen_(seen), instance_(instance) {}
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::lock_guard lock(seen_->mutex);
    for (size_t i = 0; i < batch.size(); ++i) {
      const AlertCore& core = static_cast<const Alert&>(batch[i]).core();
      seen_->objects[instance_].insert(core.object_id);
      seen_->latest_alert = std::max(seen_->latest_alert, core.mjd_tai);
    }
    seen_->alerts[instance_] += batch.size();
    out.filtered(batch.size());
  }
  void on_stream_time(size_t, double mjd) override {
    std::lock_guard lock(seen_->mutex);
    auto [it, fresh] = seen_->clock.emplace(instance_, mjd);
    if (!fresh && mjd < it->second) seen_->clock_went_back = true;
    it->second = mjd;
  }

 private:
  KeyedSeen* seen_;
  size_t instance_;
};

// A sink whose endpoint never answers: each batch blocks until the run is torn down (as the
// webhook sink's request is cut then).
class Hangs final : public ActorLogic {
 public:
  void open(const ActorContext& c) override { scope_ = c.acks; }
  void on_batch(size_t, const BatchView&, Emitter&) override {
    while (!scope_->torn_down()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

 private:
  std::shared_ptr<const AckScope> scope_;
};

// A sink that keeps every batch `hold_ms` before letting it go, as a sink does until its records
// are durable: their latency ends then, not when the batch arrived.
class HoldsFor final : public ActorLogic {
 public:
  explicit HoldsFor(std::chrono::milliseconds hold) : hold_(hold) {}
  void on_batch(size_t, const BatchView& batch, Emitter&) override {
    held_.push_back({std::chrono::steady_clock::now() + hold_, batch});
  }
  std::chrono::microseconds tick_interval() const override { return std::chrono::microseconds(5000); }
  void on_tick(Emitter& out) override {
    auto now = std::chrono::steady_clock::now();
    while (!held_.empty() && held_.front().first <= now) release(out);
  }
  void on_end_of_stream(Emitter& out) override {
    while (!held_.empty()) {
      std::this_thread::sleep_until(held_.front().first);
      release(out);
    }
  }

 private:
  void release(Emitter& out) {
    out.delivered(held_.front().second.size());
    held_.pop_front();
  }
  std::chrono::milliseconds hold_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, BatchView>> held_;
};

class FailsToOpen final : public ActorLogic {
 public:
  void open(const ActorContext& c) override { fail(c.config.place("x"), "cannot open the thing"); }
};

struct Fixture {
  Watch watch;
  KeyedSeen keyed;
  ActorRegistry registry;
  fs::path dir = fs::temp_directory_path() / ("ebs-engine-test-" + std::to_string(::getpid()));

  Fixture() {
    register_builtin_actors(registry);
    ActorType source;
    source.name = "watched-source";
    source.outputs = {{"out", PortType::dead_letter, ""}};
    source.input_time_scale = "tai";
    source.config = {{"total", ValueKind::integer, false, "1000", ""},
                     {"record_bytes", ValueKind::integer, false, "0", ""}};
    source.create = [this](const ActorContext& c) {
      watch.tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, c.acks);  // as sources do
      return std::make_unique<WatchedSource>(&watch, c.config.integer("total"),
                                             static_cast<size_t>(c.config.integer("record_bytes")));
    };
    registry.add(source);
    ActorType flaky;
    flaky.name = "flaky";
    flaky.inputs = {{"in", PortType::any, ""}};
    flaky.outputs = {{"out", PortType::any, ""}};
    flaky.create = [](const ActorContext&) { return std::make_unique<Flaky>(); };
    registry.add(flaky);
    ActorType length_error;
    length_error.name = "throws-length-error";
    length_error.inputs = {{"in", PortType::any, ""}};
    length_error.outputs = {{"out", PortType::any, ""}};
    length_error.create = [](const ActorContext&) { return std::make_unique<ThrowsLengthError>(); };
    registry.add(length_error);
    ActorType gives_up;
    gives_up.name = "gives-up";
    gives_up.inputs = {{"in", PortType::any, ""}};
    gives_up.create = [](const ActorContext&) { return std::make_unique<GivesUp>(); };
    registry.add(gives_up);
    ActorType keeps;
    keeps.name = "keeps-objects";
    keeps.inputs = {{"in", PortType::alert, "", "object_id"}};
    keeps.create = [this](const ActorContext& c) { return std::make_unique<KeepsObjects>(&keyed, c.instance); };
    registry.add(keeps);
    ActorType hangs;
    hangs.name = "hangs";
    hangs.inputs = {{"in", PortType::any, ""}};
    hangs.blocking = true;
    hangs.create = [](const ActorContext&) { return std::make_unique<Hangs>(); };
    registry.add(hangs);
    ActorType holds;
    holds.name = "holds-for";
    holds.inputs = {{"in", PortType::any, ""}};
    holds.config = {{"hold_ms", ValueKind::integer, true, "", ""}};
    holds.blocking = true;  // sleeps at the end of the stream
    holds.create = [](const ActorContext& c) {
      return std::make_unique<HoldsFor>(std::chrono::milliseconds(c.config.integer("hold_ms")));
    };
    registry.add(holds);
    ActorType broken;
    broken.name = "fails-to-open";
    broken.inputs = {{"in", PortType::any, ""}};
    broken.create = [](const ActorContext&) { return std::make_unique<FailsToOpen>(); };
    registry.add(broken);
    fs::remove_all(dir);
  }
  ~Fixture() { fs::remove_all(dir); }

  Workflow load(const std::string& yaml) {
    std::vector<Problem> problems;
    auto doc = parse_workflow_text(yaml, "test.yaml", problems);
    REQUIRE(doc);
    auto wf = build_workflow(*doc, registry, problems);
    for (const Problem& p : problems) MESSAGE(format_problem(p));
    REQUIRE(wf);
    return *wf;
  }
  RunResult run(const std::string& yaml, RunOptions options = {}) {
    options.run_dir = dir.string();
    options.handle_signals = false;
    options.threads = 2;
    return run_workflow(load(yaml), registry, options);
  }
};

size_t lines_in(const fs::path& p) {
  std::ifstream in(p);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

TEST_CASE("a chain drains at end of stream and every actor balances") {
  Fixture f;
  RunResult r = f.run(R"(name: t
actors:
  - {id: sim, type: simulator, config: {count: 5000, seed: 1}}
  - {id: f, type: filter, parallelism: 3, config: {where: "mag < 19"}, inputs: [sim.alerts]}
  - {id: n, type: count, inputs: [f.out]})");
  REQUIRE(r.started);
  CHECK(r.errors.empty());
  CHECK(r.accounting_ok);
  CHECK(r.find("sim")->forwarded == 5000);
  CHECK(r.find("f")->in == 5000);
  CHECK(r.find("f")->forwarded + r.find("f")->filtered == 5000);
  CHECK(r.find("n")->in == r.find("f")->forwarded);
  CHECK(r.find("f")->forwarded > 0);
  CHECK(r.find("f")->filtered > 0);
}

TEST_CASE("a slow sink holds the source back: memory stays bounded by credits") {
  Fixture f;
  RunOptions options;
  options.credit_window_batches = 8;
  // 200 batches of 16 records through a sink writing 8,000 records/s: ~0.4 s.
  RunResult r = f.run(R"(name: slow
defaults: {batch_size: 16}
actors:
  - {id: src, type: watched-source, config: {total: 3200}}
  - {id: hop, type: passthrough, inputs: [src.out]}
  - {id: sink, type: jsonl, config: {path: slow.jsonl, max_records_per_s: 8000, fsync: false}, inputs: [hop.out]})",  // credits, not the disk, are measured here
                      options);
  CHECK(r.accounting_ok);
  CHECK(r.find("sink")->forwarded == 3200);
  CHECK(f.watch.tracker->records_acknowledged() == 3200);
  CHECK(f.watch.tracker->acknowledged_through() == 200);
  // Without credits the source would run all 200 batches ahead. With them, in flight are at most
  // a window per edge (2 x 8) plus what the sink holds until its 50 ms flush (8,000/s x 50 ms =
  // 25 batches of 16), plus scheduling slack: 43 on an idle machine, 87 once under a parallel
  // build (a flush timer that fires late holds more), so the bound is half of the 200.
  MESSAGE("max batches in flight: " << f.watch.max_outstanding_batches.load());
  CHECK(f.watch.max_outstanding_batches <= 100);
  CHECK(r.find("hop")->peak_queued_batches <= 8);
  CHECK(lines_in(f.dir / "slow.jsonl") == 3200);
}

TEST_CASE("huge records behind a slow sink: the byte credits bound what is in flight") {
  Fixture f;
  RunOptions options;
  options.credit_window_batches = 16;
  options.credit_window_bytes = int64_t{4} << 20;
  // 60 records of 1 MiB, one per batch, through a sink writing 100 records/s: ~0.6 s. The batch
  // window alone would let 16 batches (16 MiB) wait on each of the two edges.
  RunResult r = f.run(R"(name: huge
defaults: {batch_size: 1}
actors:
  - {id: src, type: watched-source, config: {total: 60, record_bytes: 1048576}}
  - {id: hop, type: passthrough, inputs: [src.out]}
  - {id: sink, type: jsonl, config: {path: huge.jsonl, max_records_per_s: 100, fsync: false}, inputs: [hop.out]})",
                      options);
  CHECK(r.accounting_ok);
  CHECK(r.find("sink")->forwarded == 60);
  // Per edge at most the byte window plus one batch (5 MiB), twice, plus what the sink holds
  // until its 50 ms flush (~5 MiB) and scheduling slack (15-17 MiB measured): well below the
  // 32 MiB the batch window alone allows.
  MESSAGE("max MiB in flight: " << f.watch.max_outstanding_batches.load());
  CHECK(f.watch.max_outstanding_batches <= 22);
  CHECK(r.find("hop")->peak_queued_batches <= 5);
  CHECK(lines_in(f.dir / "huge.jsonl") == 60);
}

TEST_CASE("a credit window out of range set from code is refused before the run starts: 0 batches never opens") {
  Fixture f;
  const std::string workflow = R"(name: window
actors:
  - {id: src, type: watched-source, config: {total: 100}}
  - {id: sink, type: jsonl, config: {path: window.jsonl, fsync: false}, inputs: [src.out]})";
  RunOptions options;
  options.credit_window_batches = 0;
  RunResult r = f.run(workflow, options);
  CHECK_FALSE(r.started);
  CHECK(r.errors == std::vector<std::string>{
                        "'credit_window_batches' must be a whole number of batches from 1 to 65536 (default 16), not 0"});
  options.credit_window_batches = 4;
  options.credit_window_bytes = -5;
  r = f.run(workflow, options);
  CHECK_FALSE(r.started);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].ends_with("not -5"));
  // 0 bytes, from code only: unlimited.
  options.credit_window_bytes = 0;
  CHECK(f.run(workflow, options).accounting_ok);
  CHECK(credit_problems({4, 0}, 0).empty());
  CHECK(credit_problems({4, 0}, -1).size() == 1);
}

TEST_CASE("held_tokens_bytes in a single-process run is not silently dropped: the run warns that it does nothing") {
  Fixture f;
  const std::string actors = R"(
actors:
  - {id: src, type: watched-source, config: {total: 100}}
  - {id: sink, type: jsonl, config: {path: held.jsonl, fsync: false}, inputs: [src.out]})";
  auto held_warnings = [](const RunResult& r) {
    return std::count_if(r.warnings.begin(), r.warnings.end(),
                         [](const std::string& w) { return w.starts_with("held_tokens_bytes = "); });
  };
  RunOptions options;
  options.overwrite = true;  // each run writes held.jsonl again
  RunResult plain = f.run("name: held" + actors, options);
  CHECK(plain.accounting_ok);
  CHECK(held_warnings(plain) == 0);
  RunResult key = f.run("name: held\ndefaults: {held_tokens_bytes: 65536}" + actors, options);
  CHECK(key.accounting_ok);
  REQUIRE(held_warnings(key) == 1);
  CHECK(std::find(key.warnings.begin(), key.warnings.end(),
                  "held_tokens_bytes = 65536 (the workflow's defaults.held_tokens_bytes) applies only to a cluster run "
                  "(--nodes, --local-cluster): it does nothing in this single-process run") != key.warnings.end());
  options.held_tokens_bytes = 4096;
  RunResult flag = f.run("name: held" + actors, options);
  CHECK(flag.accounting_ok);
  REQUIRE(held_warnings(flag) == 1);
  CHECK(std::find_if(flag.warnings.begin(), flag.warnings.end(), [](const std::string& w) {
          return w.starts_with("held_tokens_bytes = 4096 (run --held-tokens-bytes)");
        }) != flag.warnings.end());
}

TEST_CASE("a batch that throws is dead-lettered, acknowledged, and counted as failed") {
  Fixture f;
  RunResult r = f.run(R"(name: flaky
defaults: {batch_size: 10}
actors:
  - {id: src, type: watched-source, config: {total: 100}}
  - {id: flaky, type: flaky, inputs: [src.out]}
  - {id: n, type: count, inputs: [flaky.out]})");
  CHECK(r.accounting_ok);
  const ActorTotals* flaky = r.find("flaky");
  CHECK(flaky->in == 100);
  CHECK(flaky->failed == 30);  // batches 3, 6, 9
  CHECK(flaky->forwarded == 70);
  CHECK(r.find("dead_letters")->forwarded == 30);
  CHECK(lines_in(f.dir / "dead-letters.jsonl") == 30);
  CHECK(f.watch.tracker->records_acknowledged() == 100);  // dead letters are acknowledged once written
}

TEST_CASE("dead letters can be wired to an explicit sink") {
  Fixture f;
  RunResult r = f.run(R"(name: explicit
defaults: {batch_size: 10}
actors:
  - {id: src, type: watched-source, config: {total: 60}}
  - {id: flaky, type: flaky, inputs: [src.out]}
  - {id: n, type: count, inputs: [flaky.out]}
  - {id: bad, type: jsonl, config: {path: bad.jsonl}, inputs: [flaky.dead_letters]})");
  CHECK(r.accounting_ok);
  CHECK(r.find("bad")->forwarded == 20);
  CHECK(lines_in(f.dir / "bad.jsonl") == 20);
  CHECK(lines_in(f.dir / "dead-letters.jsonl") == 0);
}

TEST_CASE("an actor that cannot open stops the run before it starts, naming it") {
  Fixture f;
  RunResult r = f.run(R"(name: broken
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: b, type: fails-to-open, inputs: [sim.alerts]})");
  CHECK_FALSE(r.started);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].find("actor 'b' cannot start") != std::string::npos);
  CHECK(r.errors[0].find("cannot open the thing") != std::string::npos);
}

TEST_CASE("the summary JSON carries per-actor counts and the accounting verdict") {
  Fixture f;
  RunOptions options;
  options.summary_json = (fs::temp_directory_path() / ("ebs-summary-" + std::to_string(::getpid()) + ".json")).string();
  RunResult r = f.run(R"(name: s
actors:
  - {id: sim, type: simulator, config: {count: 100}}
  - {id: n, type: count, inputs: [sim.alerts]})",
                      options);
  std::ifstream in(options.summary_json);
  auto j = nlohmann::json::parse(in);
  CHECK(j["accounting_ok"] == true);
  CHECK(j["actors"][0]["id"] == "sim");
  CHECK(j["actors"][0]["forwarded"] == 100);
  fs::remove(options.summary_json);
}

TEST_CASE("an exception that is not a Fault (std::length_error) dead-letters its batch; the run goes on") {
  Fixture f;
  RunResult r = f.run(R"(name: poisoned
defaults: {batch_size: 10}
actors:
  - {id: src, type: watched-source, config: {total: 100}}
  - {id: t, type: throws-length-error, inputs: [src.out]}
  - {id: n, type: count, inputs: [t.out]})");
  CHECK(r.accounting_ok);
  CHECK(r.errors.empty());
  CHECK(r.find("t")->failed == 50);
  CHECK(r.find("n")->in == 50);
  std::ifstream in(f.dir / "dead-letters.jsonl");
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(nlohmann::json::parse(line)["reason"].get<std::string>().starts_with("unexpected error: "));
  CHECK(f.watch.tracker->records_acknowledged() == 100);  // dead-lettered records are handled
}

TEST_CASE("a run torn down after a fault abandons what is still held: nothing of it is acknowledged") {
  Fixture f;
  RunResult r = f.run(R"(name: torn
defaults: {batch_size: 10}
actors:
  - {id: src, type: watched-source, config: {total: 1000000}}
  - {id: g, type: gives-up, inputs: [src.out]})");
  REQUIRE_FALSE(r.errors.empty());
  CHECK(r.errors[0].find("cannot go on") != std::string::npos);
  CHECK(f.watch.tracker->acknowledged_through() == 0);  // the held batches were never handled
  CHECK(f.watch.tracker->records_acknowledged() == 0);
  CHECK(f.watch.tracker->records_abandoned() > 0);
  CHECK(f.watch.tracker->issued() < 100);  // credits held the source back; the teardown ended the run
}

TEST_CASE("a keyed input gives each object to one instance, and every instance the stream's clock") {
  Fixture f;
  RunResult r = f.run(R"(name: keyed
defaults: {batch_size: 64}
actors:
  - {id: sim, type: simulator, config: {count: 5000, objects: 300, seed: 3}}
  - {id: keep, type: keeps-objects, parallelism: 4, inputs: [sim.alerts]})");
  CHECK(r.errors.empty());
  CHECK(r.accounting_ok);
  std::map<std::string, size_t> instance_of;
  size_t alerts = 0;
  for (const auto& entry : f.keyed.objects) {
    const size_t instance = entry.first;  // clang 14 lambdas (CHECK_MESSAGE) cannot capture structured bindings
    for (const std::string& object : entry.second) {
      const auto placed = instance_of.emplace(object, instance);
      CHECK_MESSAGE(placed.second, object << " went to instances " << placed.first->second << " and " << instance);
    }
  }
  for (const auto& [instance, n] : f.keyed.alerts) alerts += n;
  CHECK(alerts == 5000);
  CHECK(instance_of.size() == 300);
  REQUIRE(f.keyed.objects.size() == 4);  // 300 objects reach all four instances
  // Each instance saw only its objects, but its clock ends at the latest alert of the stream.
  for (size_t instance = 0; instance < 4; ++instance) CHECK(f.keyed.clock[instance] == f.keyed.latest_alert);
  CHECK_FALSE(f.keyed.clock_went_back);
}

TEST_CASE("a drain that outlasts drain_timeout_s abandons what is still held, names the busy actors, and fails the run") {
  Fixture f;
  RunOptions options;
  options.drain_timeout_s = 0.5;  // overrides the workflow's 30
  auto started = std::chrono::steady_clock::now();
  RunResult r = f.run(R"(name: hanging
defaults: {batch_size: 10, drain_timeout_s: 30}
actors:
  - {id: src, type: watched-source, config: {total: 100}}
  - {id: stuck, type: hangs, inputs: [src.out]})",
                      options);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  MESSAGE("the run ended " << took << " s after it started (drain bound 0.5 s)");
  CHECK(took < 20);  // the bound of the command line, not the workflow's 30 s
  CHECK(r.drain_timed_out);
  CHECK(r.drain_timeout_s == 0.5);
  REQUIRE_FALSE(r.errors.empty());
  CHECK(r.errors[0].find("the drain did not end within drain_timeout_s = 0.5 s; still busy: stuck (10 records "
                          "taken in and not handled)") == 0);
  CHECK(r.busy_actors == std::vector<std::string>{"stuck"});
  CHECK(r.unhandled_records == 10);  // the batch it hangs on; the 9 others wait in its mailbox
  // The 10 batches fit the window: the source ended; all it read is abandoned, none acknowledged.
  CHECK(f.watch.tracker->records_acknowledged() == 0);
  CHECK(f.watch.tracker->acknowledged_through() == 0);
  CHECK(f.watch.tracker->records_abandoned() == 100);
  auto summary = nlohmann::json::parse(summary_json(f.load(R"(name: hanging
actors:
  - {id: src, type: watched-source}
  - {id: stuck, type: hangs, inputs: [src.out]})"), r));
  CHECK(summary["drain"]["timed_out"] == true);
  CHECK(summary["drain"]["unhandled_records"] == 10);
  // The whole of it: the 10 taken in, the 90 in the mailbox, all 100 the source read.
  CHECK(r.abandoned_records == 100);
  CHECK(summary["drain"]["abandoned_records"] == 100);
  CHECK(summary["drain"]["busy_actors"] == nlohmann::json::array({"stuck"}));
}

TEST_CASE("drain_timeout_s: a number of seconds >= 0 in defaults") {
  Fixture f;
  std::vector<Problem> problems;
  auto doc = parse_workflow_text("name: x\ndefaults: {drain_timeout_s: -1}\nactors:\n  - {id: src, type: watched-source}\n",
                                 "test.yaml", problems);
  REQUIRE(doc);
  build_workflow(*doc, f.registry, problems);
  REQUIRE(problems.size() == 1);
  CHECK(format_problem(problems[0]).find("'drain_timeout_s' must be a number of seconds >= 0") != std::string::npos);
  CHECK(format_problem(problems[0]).find("test.yaml:2:") == 0);
  CHECK(f.load("name: x\ndefaults: {drain_timeout_s: 2.5}\nactors:\n  - {id: src, type: watched-source}\n").drain_timeout_s == 2.5);
  CHECK(f.load("name: x\nactors:\n  - {id: src, type: watched-source}\n").drain_timeout_s == 20);
}

TEST_CASE("latency ends when a sink lets go of a batch, not when it receives it") {
  Fixture f;
  RunOptions options;
  options.summary_json = (f.dir.string() + "-latency.json");
  RunResult r = f.run(R"(name: held
defaults: {batch_size: 50}
actors:
  - {id: src, type: watched-source, config: {total: 1000}}
  - {id: hop, type: passthrough, inputs: [src.out]}
  - {id: held, type: holds-for, config: {hold_ms: 80}, inputs: [hop.out]}
  - {id: counted, type: count, inputs: [hop.out]})",
                      options);
  CHECK(r.accounting_ok);
  const ActorTotals* held = r.find("held");
  REQUIRE(held->measures_latency);
  CHECK(held->latency.records == 1000);
  // Every record was held 80 ms after it arrived: none can show less.
  CHECK(held->latency.p50_ms >= 80);
  CHECK(held->latency.max_ms >= 80);
  CHECK(held->latency.p50_ms <= held->latency.p90_ms);
  CHECK(held->latency.p90_ms <= held->latency.p99_ms);
  CHECK(held->latency.p99_ms <= held->latency.max_ms);
  CHECK(r.find("counted")->latency.records == 1000);
  CHECK_FALSE(r.find("hop")->measures_latency);  // its output is read: not where records end
  CHECK_FALSE(r.find("src")->measures_latency);
  std::ifstream in(options.summary_json);
  auto j = nlohmann::json::parse(in);
  for (const auto& a : j["actors"]) {
    if (a["id"] == "held") {
      CHECK(a["latency_ms"]["records"] == 1000);
      CHECK(a["latency_ms"]["p99"].get<double>() >= 80);
    }
    if (a["id"] == "hop") CHECK_FALSE(a.contains("latency_ms"));
  }
  fs::remove(options.summary_json);
}

TEST_CASE("a rate-limited source: latency counts from the scheduled offer time, so queueing shows") {
  Fixture f;
  RunOptions options;
  options.credit_window_batches = 2;
  // Offered at 1,000 records/s into a sink that writes 250/s: the source is held back by credits,
  // and record n, due at n/1000 s, is written no earlier than n/250 s. Measured from when the
  // source could actually send it (coordinated omission), the latency would stay near the few
  // batches the credits allow in flight (~0.1 s); from its schedule it grows to ~1.5 s.
  RunResult r = f.run(R"(name: paced
defaults: {batch_size: 10}
actors:
  - {id: src, type: watched-source, rate: 1000, config: {total: 500}}
  - {id: sink, type: jsonl, config: {path: paced.jsonl, max_records_per_s: 250, fsync: false}, inputs: [src.out]})",
                      options);
  CHECK(r.accounting_ok);
  const ActorTotals* sink = r.find("sink");
  CHECK(sink->latency.records == 500);
  CHECK(sink->latency.max_ms >= 1200);
  CHECK(sink->latency.p99_ms >= 1000);
  CHECK(sink->latency.p50_ms >= 400);  // record 250: due at 0.25 s, written after 1 s
}

TEST_CASE("a sink with flush_interval_ms lets go of a partial batch within the interval, not at its size or the end") {
  Fixture f;
  // 20 alerts offered at 20/s, each in a batch of its own (batch_delay 1 ms), into a jsonl sink
  // and a repository whose size thresholds (4096 lines, commit_records) they never reach: only
  // the interval releases them before the end of the stream, ~1 s in. With a 30 ms interval the
  // median record is durable within a few intervals; with 60 s it waits for the end (record 10,
  // due at 0.5 s, released at ~1 s). The bounds are generous: this is what is released when, not
  // how fast.
  auto run = [&](int flush_ms) {
    const std::string ms = std::to_string(flush_ms);
    fs::remove_all(f.dir);
    return f.run(R"(name: partial
defaults: {batch_size: 1000, batch_delay_ms: 1}
actors:
  - {id: sim, type: simulator, rate: 20, config: {count: 20, seed: 5}}
  - {id: lines, type: jsonl, config: {path: a.jsonl, fsync: false, flush_interval_ms: )" + ms + R"(}, inputs: [sim.alerts]}
  - {id: store, type: repository, config: {path: r.db, commit_records: 5000, flush_interval_ms: )" + ms + R"(}, inputs: [sim.alerts]})");
  };
  RunResult prompt = run(30);
  CHECK(prompt.accounting_ok);
  for (const char* sink : {"lines", "store"}) {
    INFO(sink);
    const ActorTotals* t = prompt.find(sink);
    CHECK(t->forwarded == 20);
    CHECK(t->latency.records == 20);
    CHECK(t->latency.p50_ms < 250);
  }
  RunResult at_end = run(60000);
  CHECK(at_end.accounting_ok);
  for (const char* sink : {"lines", "store"}) {
    INFO(sink);
    CHECK(at_end.find(sink)->latency.p50_ms >= 400);
  }
}

TEST_CASE("rate and burst pace a source that could go faster") {
  Fixture f;
  // 300 records at 1,000/s take at least 0.3 s; bursts of 100 every 0.2 s: at least 0.6 s.
  RunResult steady = f.run(R"(name: steady
defaults: {batch_size: 10}
actors:
  - {id: src, type: watched-source, rate: 1000, config: {total: 300}}
  - {id: n, type: count, inputs: [src.out]})");
  CHECK(steady.accounting_ok);
  CHECK(steady.elapsed_s >= 0.29);
  RunResult bursts = f.run(R"(name: bursts
defaults: {batch_size: 1000}
actors:
  - {id: src, type: watched-source, burst: {every_s: 0.2, alerts: 100}, config: {total: 300}}
  - {id: n, type: count, inputs: [src.out]})");
  CHECK(bursts.accounting_ok);
  CHECK(bursts.elapsed_s >= 0.59);
  CHECK(bursts.find("n")->in == 300);
}
