// filters_bench: alerts per second through one `filters` instance holding 1, 100 and 1,000
// generated user filters (2-5 cuts over 12 common fields, seeded random thresholds), on the real
// ZTF alerts of ../shared/data repeated into batches of 1,024. The three sizes run interleaved,
// best of 5 rounds each (the machine is shared: the ratio to the 1-filter rate is what to watch;
// target: 1,000 filters >= 20 % of it). For scale, the single-filter `filter` actor with the
// first generated filter runs in the same rounds.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "actors/transforms/filter.h"
#include "actors/transforms/filters.h"
#include "actors/transforms/generated_filters.h"
#include "test/support/collecting_emitter.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using Clock = std::chrono::steady_clock;

namespace {

struct Instance {
  ActorRegistry registry;
  std::unique_ptr<ActorLogic> logic;
  Instance(const std::string& type, const YAML::Node& config) {
    register_filter(registry);
    register_filters(registry);
    const ActorType& t = *registry.find(type);
    ActorContext context = test::make_context(t, YAML::Dump(config));
    logic = t.create(context);
    logic->open(context);
  }
};

// Alerts per second through `instance` over `batches`, and how many passed.
double alerts_per_second(Instance& instance, const std::vector<BatchView>& batches, uint64_t& passed) {
  test::CollectingEmitter out;
  size_t alerts = 0;
  auto start = Clock::now();
  for (const BatchView& batch : batches) {
    instance.logic->on_batch(0, batch, out);
    alerts += batch.size();
    out.sent.clear();
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  passed = out.forwarded_records;
  return static_cast<double>(alerts) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  size_t batch_count = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20;
  std::vector<RecordPtr> alerts;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : test::ztf_alerts(folder)) alerts.push_back(a);
  if (alerts.empty()) {
    std::fprintf(stderr, "filters_bench: no ZTF alerts under %s\n", test::data_dir().c_str());
    return 1;
  }
  std::vector<BatchView> batches;
  for (size_t b = 0; b < batch_count; ++b) {
    std::vector<RecordPtr> records;
    for (size_t i = 0; i < 1024; ++i) records.push_back(alerts[(b * 1024 + i) % alerts.size()]);
    batches.push_back(BatchView::make(PortType::alert, std::move(records), {}));
  }
  std::vector<std::string> texts = generated_user_filters(1000, 18);
  const size_t sizes[] = {1, 100, 1000};
  std::vector<std::unique_ptr<Instance>> instances;
  for (size_t n : sizes) {
    YAML::Node config;
    for (size_t i = 0; i < n; ++i) config["filters"]["user" + std::to_string(i)] = texts[i];
    instances.push_back(std::make_unique<Instance>("filters", config));
  }
  YAML::Node single;
  single["where"] = texts[0];
  Instance filter("filter", single);

  double best[3] = {0, 0, 0}, best_single = 0;
  uint64_t passed[3] = {0, 0, 0}, passed_single = 0;
  for (int round = 0; round < 5; ++round) {
    for (size_t s = 0; s < 3; ++s) best[s] = std::max(best[s], alerts_per_second(*instances[s], batches, passed[s]));
    best_single = std::max(best_single, alerts_per_second(filter, batches, passed_single));
  }
  std::printf("alerts       : %zu real ZTF alerts repeated into %zu batches of 1024\n", alerts.size(), batches.size());
  std::printf("filter (1)   : %10.0f alerts/s  (%llu passed)\n", best_single, static_cast<unsigned long long>(passed_single));
  for (size_t s = 0; s < 3; ++s)
    std::printf("filters %-5zu: %10.0f alerts/s  (%llu passed at least one)  %5.1f %% of 1 filter\n", sizes[s], best[s],
                static_cast<unsigned long long>(passed[s]), 100 * best[s] / best[0]);
  if (passed[0] != passed_single) {
    std::fprintf(stderr, "filters_bench: `filters` with one filter and `filter` disagree\n");
    return 1;
  }
  return 0;
}
