// CPU per file of the `avro-files` source alone (this thread's user + system time: reading,
// decode, profile mapping), without the engine's other threads, whose scheduling makes a whole
// run's CPU vary by ±10 % on the shared 2-core machine. The alerts of the last `held` batches stay
// alive, as alerts in flight do in a run (their buffers are then not in the cache when reused).
// Rounds open the source anew; the best and the median round are printed.
//
// Usage: avro_files_bench FOLDER [rounds, default 5] [cutouts: skip|read, default skip] [held batches, default 2]
//   e.g. the 20,000 unique ZTF files of bench/e2e/unique_alerts.py.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/sources/files/avro_files_source.h"
#include "engine/graph/actor_registry.h"
#include "test/support/collecting_emitter.h"

namespace {

using namespace ebs;

// Counts what the source sends and keeps the last `held` batches alive.
class HoldingEmitter final : public Emitter {
 public:
  explicit HoldingEmitter(size_t held) : held_(held) {}
  void forward(size_t, BatchView batch) override {
    records += batch.size();
    batches_.push_back(std::move(batch));
    if (batches_.size() > held_) batches_.pop_front();
  }
  void emit(size_t port, BatchView batch) override { forward(port, std::move(batch)); }
  void filtered(size_t) override {}
  void failed(const RecordPtr&, const Fault&, const std::vector<AckRef>&) override { ++failures; }
  void failed_raw(std::string, std::string, const Fault&, const std::vector<AckRef>&) override { ++failures; }
  void read(size_t) override {}
  void delivered(size_t) override {}

  uint64_t records = 0, failures = 0;

 private:
  size_t held_;
  std::deque<BatchView> batches_;
};

double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: avro_files_bench FOLDER [rounds] [skip|read] [held batches]\n");
    return 2;
  }
  const std::string folder = argv[1];
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string cutouts = argc > 3 ? argv[3] : "skip";
  const size_t held = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 2;
  if (rounds < 1) {
    std::fprintf(stderr, "avro_files_bench: rounds must be a whole number of at least 1, not '%s'\n", argv[2]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  ActorRegistry registry;
  register_avro_files_source(registry);
  const ActorType* type = registry.find("avro-files");
  std::vector<double> per_alert;
  uint64_t records = 0, failures = 0;
  for (int round = 0; round < rounds; ++round) {
    ActorContext context = test::make_context(*type, "{path: '" + folder + "', cutouts: " + cutouts + "}");
    HoldingEmitter out(held);
    const double start = thread_cpu_s();
    auto logic = type->create(context);
    logic->open(context);
    while (logic->produce(1024, out).state != ProduceResult::State::done) {
    }
    const double cpu = thread_cpu_s() - start;
    records = out.records;
    failures = out.failures;
    per_alert.push_back(cpu / static_cast<double>(std::max<uint64_t>(records, 1)) * 1e6);
  }
  std::sort(per_alert.begin(), per_alert.end());
  std::printf("%llu alerts, %llu failures, cutouts %s, %zu batches held: best %.2f us/alert, median %.2f (%d rounds)\n",
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(failures), cutouts.c_str(),
              held, per_alert.front(), per_alert[per_alert.size() / 2], rounds);
  return 0;
}
