// Engine throughput: pass-through chains of 1, 5 and 10 actors at batch sizes 1, 64 and 1024,
// next to a bare CAF chain (plain actors forwarding a shared pointer, no engine) run in the same
// process; then peak RSS with a sink 100x slower than the source, in child processes.
//
//   engine_bench [--quick]
// Prints records/s and ns per record per hop; ratios are what to compare (shared machines).
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "app/builtin_modules.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/engine.h"
#include <spdlog/spdlog.h>

using namespace ebs;
using Clock = std::chrono::steady_clock;

namespace {

// ---- bare CAF: each actor forwards a shared pointer to the next; the last counts. ----
using bare_batch = std::shared_ptr<const std::vector<int64_t>>;
}  // namespace
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(bare_batch)
namespace {

caf::behavior bare_hop(caf::event_based_actor*, caf::actor next) {
  return {[next](const bare_batch& b) -> caf::result<void> {
    caf::anon_send(next, b);
    return caf::unit;
  }};
}

double bare_caf_rate(size_t hops, size_t batch, uint64_t records) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys(cfg);
  caf::scoped_actor self(sys);
  uint64_t batches = records / batch;
  auto done = caf::actor_cast<caf::actor>(self);
  auto sink = sys.spawn([done, batches](caf::event_based_actor* me) -> caf::behavior {
    auto seen = std::make_shared<uint64_t>(0);
    return {[=](const bare_batch&) {
      if (++*seen == batches) me->send(done, caf::atom("done"));
    }};
  });
  caf::actor next = sink;
  for (size_t i = 0; i + 1 < hops; ++i) next = sys.spawn(bare_hop, next);
  auto data = std::make_shared<const std::vector<int64_t>>(batch, 1);
  auto start = Clock::now();
  for (uint64_t i = 0; i < batches; ++i) caf::anon_send(next, bare_batch(data));
  self->receive([](caf::atom_value) {});
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  return batches * batch / s;
}

// ---- the engine: a source re-sending one prebuilt immutable batch, pass-through hops, count. ----
class BenchSource final : public ActorLogic {
 public:
  void open(const ActorContext& c) override {
    batches_ = c.config.integer("batches");
    fresh_ = c.config.boolean("fresh");
    batch_size_ = c.batch_size;
    auto batch = std::make_shared<Batch>();
    batch->type = PortType::any;
    auto record = std::make_shared<const DeadLetter>();
    batch->records.assign(c.batch_size, record);
    if (c.config.boolean("alerts")) {  // alerts of 1,000 objects, for keyed fan-out
      batch->type = PortType::alert;
      batch->records.clear();
      for (size_t i = 0; i < c.batch_size; ++i) {
        auto core = std::make_shared<AlertCore>();
        core->object_id = "ZTF" + std::to_string(i % 1000);
        core->mjd_tai = 60000 + i * 1e-6;
        batch->records.push_back(std::make_shared<const Alert>(core));
      }
    }
    batch_ = BatchView(std::move(batch));
  }
  ProduceResult produce(size_t, Emitter& out) override {
    if (sent_ == batches_) return ProduceResult::done();
    out.read(batch_.size());
    if (fresh_) {
      // New records every batch (a real source's allocation pattern): memory grows unless the
      // engine holds the source back.
      std::vector<RecordPtr> records;
      records.reserve(batch_size_);
      for (size_t i = 0; i < batch_size_; ++i) {
        auto letter = std::make_shared<DeadLetter>();
        letter->original.assign(512, 'x');
        records.push_back(std::move(letter));
      }
      out.forward(0, BatchView::make(PortType::any, std::move(records), {}));
    } else {
      out.forward(0, batch_);
    }
    return ++sent_ == batches_ ? ProduceResult::done() : ProduceResult::more();
  }

 private:
  int64_t batches_ = 0, sent_ = 0;
  bool fresh_ = false;
  size_t batch_size_ = 0;
  BatchView batch_;
};

void register_bench_source(ActorRegistry& registry) {
  ActorType t;
  t.name = "bench-source";
  t.outputs = {{"out", PortType::any, ""}};
  t.input_time_scale = "tai";
  t.config = {{"batches", ValueKind::integer, true, "", ""},
              {"fresh", ValueKind::boolean, false, "false", ""},
              {"alerts", ValueKind::boolean, false, "false", ""}};
  t.create = [](const ActorContext&) { return std::make_unique<BenchSource>(); };
  registry.add(t);
}

Workflow chain_workflow(const ActorRegistry& registry, size_t hops, size_t batch, uint64_t records,
                        const std::string& sink, bool fresh = false) {
  std::string yaml = "name: chain\ndefaults: {batch_size: " + std::to_string(batch) + "}\nactors:\n";
  yaml += "  - {id: src, type: bench-source, config: {batches: " + std::to_string(records / batch) +
          (fresh ? ", fresh: true" : "") + "}}\n";
  std::string prev = "src";
  // `hops` actors in the chain: the source and the sink count as two of them.
  for (size_t i = 0; i + 2 < hops; ++i) {
    std::string id = "hop" + std::to_string(i);
    yaml += "  - {id: " + id + ", type: passthrough, inputs: [" + prev + ".out]}\n";
    prev = id;
  }
  yaml += "  - {id: sink, " + sink + ", inputs: [" + prev + ".out]}\n";
  std::vector<Problem> problems;
  auto doc = parse_workflow_text(yaml, "bench.yaml", problems);
  auto wf = build_workflow(*doc, registry, problems);
  if (!wf) {
    for (auto& p : problems) std::fprintf(stderr, "%s\n", format_problem(p).c_str());
    std::exit(1);
  }
  return *wf;
}

double engine_rate(const ActorRegistry& registry, size_t hops, size_t batch, uint64_t records) {
  Workflow wf = chain_workflow(registry, hops, batch, records, "type: count");
  RunOptions options;
  options.threads = 2;
  options.handle_signals = false;
  options.run_dir = "/tmp/ebs-engine-bench";
  RunResult r = run_workflow(wf, registry, options);
  if (!r.accounting_ok) std::fprintf(stderr, "accounting failed\n");
  return records / r.elapsed_s;
}

// A source and 4 counting instances, the batches reaching them by `partition`.
double fan_out_rate(const ActorRegistry& registry, const std::string& partition, size_t batch, uint64_t records) {
  std::string yaml = "name: fan-out\ndefaults: {batch_size: " + std::to_string(batch) + "}\nactors:\n" +
                     "  - {id: src, type: bench-source, config: {batches: " + std::to_string(records / batch) +
                     ", alerts: true}}\n" + "  - {id: sink, type: count, parallelism: 4, inputs: [{from: src.out, partition: " +
                     partition + "}]}\n";
  std::vector<Problem> problems;
  auto doc = parse_workflow_text(yaml, "bench.yaml", problems);
  auto wf = build_workflow(*doc, registry, problems);
  if (!wf) {
    for (auto& p : problems) std::fprintf(stderr, "%s\n", format_problem(p).c_str());
    std::exit(1);
  }
  RunOptions options;
  options.threads = 2;
  options.handle_signals = false;
  options.run_dir = "/tmp/ebs-engine-bench";
  RunResult r = run_workflow(*wf, registry, options);
  if (!r.accounting_ok) std::fprintf(stderr, "accounting failed\n");
  return records / r.elapsed_s;
}

long peak_rss_kb_of_child(const ActorRegistry& registry, double sink_rate, uint64_t records, size_t batch,
                          std::vector<long>* samples) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::atomic<bool> running{true};
    std::vector<long> seen;
    std::thread sampler([&] {
      while (running) {
        std::ifstream statm("/proc/self/statm");
        long size = 0, resident = 0;
        statm >> size >> resident;
        seen.push_back(resident * (sysconf(_SC_PAGESIZE) / 1024));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    char sink[128];
    std::snprintf(sink, sizeof sink, "type: jsonl, config: {path: slow.jsonl, max_records_per_s: %.0f}", sink_rate);
    Workflow wf = chain_workflow(registry, 5, batch, records, sink, true);
    RunOptions options;
    options.threads = 2;
    options.handle_signals = false;
    options.run_dir = "/tmp/ebs-engine-bench";
    run_workflow(wf, registry, options);
    running = false;
    sampler.join();
    // Peak RSS per quarter of the run: flat means the source was held back.
    long quarters[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < seen.size(); ++i) {
      size_t q = std::min<size_t>(3, i * 4 / std::max<size_t>(1, seen.size()));
      quarters[q] = std::max(quarters[q], seen[i]);
    }
    if (write(fds[1], quarters, sizeof quarters) != sizeof quarters) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  long quarters[4] = {0, 0, 0, 0};
  if (read(fds[0], quarters, sizeof quarters) != sizeof quarters) quarters[3] = -1;
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  samples->assign(quarters, quarters + 4);
  return *std::max_element(quarters, quarters + 4);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  spdlog::set_level(spdlog::level::warn);
  ActorRegistry registry;
  register_builtin_actors(registry);
  register_bench_source(registry);

  std::printf("ebs-flow engine benchmark (2 scheduler threads)\n");
  std::printf("%-6s %-6s %16s %16s %12s %12s\n", "hops", "batch", "bare CAF rec/s", "engine rec/s", "engine/bare",
              "ns/rec/hop");
  for (size_t hops : {1, 5, 10}) {
    for (size_t batch : {1, 64, 1024}) {
      uint64_t records = (batch == 1 ? 200000 : batch == 64 ? 4000000 : 40000000) / (quick ? 10 : 1);
      size_t chain = std::max<size_t>(hops, 2);  // the engine needs a source and a sink
      double bare = bare_caf_rate(chain, batch, records);
      double engine = engine_rate(registry, chain, batch, records);
      std::printf("%-6zu %-6zu %16.0f %16.0f %12.2f %12.2f\n", chain, batch, bare, engine, engine / bare,
                  1e9 / engine / static_cast<double>(chain));
      std::fflush(stdout);
    }
  }

  // Keyed partitioning splits each batch by object (a hash per record, a view per instance) and
  // sends the stream's clock; broadcast sends every batch to every instance (4x the records).
  std::printf("\nfan-out to 4 instances, batch 1024, alerts of 1,000 objects (records/s delivered per input record)\n");
  const uint64_t fan_records = quick ? 2000000 : 20000000;
  double any_rate = fan_out_rate(registry, "any", 1024, fan_records);
  for (const char* partition : {"any", "object_id", "broadcast"}) {
    double rate = std::string(partition) == "any" ? any_rate : fan_out_rate(registry, partition, 1024, fan_records);
    std::printf("  partition %-10s %14.0f rec/s  %5.2f of any\n", partition, rate, rate / any_rate);
    std::fflush(stdout);
  }

  // The source makes fresh 512-byte records as fast as it can (millions/s); the slow sink
  // writes 20,000/s, over 100x slower. Without credits the whole run would pile up in memory.
  uint64_t records = quick ? 20000 : 100000;
  std::printf("\npeak RSS, 5-actor chain, batch 64, %llu fresh 512-byte records\n",
              static_cast<unsigned long long>(records));
  std::vector<long> fast_q, slow_q;
  long fast = peak_rss_kb_of_child(registry, 0, records, 64, &fast_q);
  long slow = peak_rss_kb_of_child(registry, 20000, records, 64, &slow_q);
  std::printf("  unthrottled sink: peak %ld KiB (quarters %ld %ld %ld %ld)\n", fast, fast_q[0], fast_q[1], fast_q[2],
              fast_q[3]);
  std::printf("  sink at 20,000 records/s (100x slower than the source): peak %ld KiB (quarters %ld %ld %ld %ld)\n",
              slow, slow_q[0], slow_q[1], slow_q[2], slow_q[3]);
  std::printf("  slow/fast peak RSS ratio: %.2f (flat memory: ~1)\n", static_cast<double>(slow) / fast);
  return 0;
}
