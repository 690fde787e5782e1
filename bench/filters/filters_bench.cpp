// filters_bench: alerts per second through one `filters` instance holding 1, 100 and 1,000
// generated user filters (2-5 cuts over 12 common fields, seeded random thresholds), on the real
// ZTF alerts of ../shared/data repeated into batches of 1,024. The three sizes run interleaved,
// best of 5 rounds each, per CPU second of the evaluating thread (the machine is shared: the ratio
// to the 1-filter rate is what to watch;
// target: 1,000 filters >= 20 % of it). For scale, the single-filter `filter` actor with the
// first generated filter runs in the same rounds, and so does the evaluation alone (fields read,
// the ProgramSet evaluated; no tags added to the alerts that pass).
//
// `filters_bench --profile actor|evaluation N [ROUNDS]` runs one configuration only (the `filters`
// actor, or the evaluation alone, with N filters) ROUNDS times (100), for perf/callgrind.
//
// SQL filters share no work (each is one SQLite query per alert): the per-alert cost of a few
// typical queries is measured on a repository written from the same alerts (what one SQL filter
// adds to a batch's evaluation).
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include <filesystem>

#include "actors/common/repository/alert_query.h"
#include "actors/common/repository/reader.h"
#include "actors/common/repository/writer.h"
#include "actors/transforms/filter.h"
#include "actors/transforms/filters.h"
#include "actors/transforms/generated_filters.h"
#include "engine/expr/alert_field.h"
#include "engine/expr/program_set.h"
#include "test/support/collecting_emitter.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;

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

// This thread's CPU time: the machine is shared, and wall time counts the other users' work too.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Alerts per CPU second through `instance` over `batches`, and how many passed.
double alerts_per_second(Instance& instance, const std::vector<BatchView>& batches, uint64_t& passed) {
  test::CollectingEmitter out;
  size_t alerts = 0;
  double start = cpu_seconds();
  for (const BatchView& batch : batches) {
    instance.logic->on_batch(0, batch, out);
    alerts += batch.size();
    out.sent.clear();
  }
  double seconds = cpu_seconds() - start;
  passed = out.forwarded_records;
  return static_cast<double>(alerts) / seconds;
}

// The evaluation alone (each field read once per alert, then the ProgramSet), without the tag
// annotations the actor adds to the alerts that pass: alerts per CPU second.
// The reader and workspace live across rounds, as the actor's do.
struct Evaluation {
  explicit Evaluation(expr::ProgramSet s) : set(std::move(s)), reader(set.fields()) {}
  expr::ProgramSet set;
  AlertColumns reader;
  std::vector<const Alert*> records;
  std::vector<std::vector<expr::Value>> columns;
  expr::ProgramSet::Workspace workspace;
};

double evaluations_per_second(Evaluation& e, const std::vector<BatchView>& batches) {
  const expr::ProgramSet& set = e.set;
  AlertColumns& reader = e.reader;
  std::vector<const Alert*>& records = e.records;
  std::vector<std::vector<expr::Value>>& columns = e.columns;
  expr::ProgramSet::Workspace& workspace = e.workspace;
  size_t alerts = 0, passed = 0;
  double start = cpu_seconds();
  for (const BatchView& batch : batches) {
    records.resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) records[i] = &static_cast<const Alert&>(batch[i]);
    reader.read(records, columns);
    passed += set.evaluate(columns, batch.size(), workspace).count(0);
    alerts += batch.size();
  }
  double seconds = cpu_seconds() - start;
  if (passed > alerts) std::abort();  // keeps the evaluation from being optimised away
  return static_cast<double>(alerts) / seconds;
}

// Microseconds of CPU per alert that each query takes (bound, stepped once, reset: as the
// `filters` actor asks an SQL filter), best of 5 rounds over the batches, on a repository written
// from the batches' distinct alerts: each alert's step in its own read transaction (as before the
// `filters` actor read a batch in one), and every batch in one read transaction (as it does now).
void sql_filter_costs(const std::vector<RecordPtr>& alerts, const std::vector<BatchView>& batches) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("filters_bench_" + std::to_string(::getpid()) + ".sqlite");
  {
    repository::Writer writer(path.string());
    writer.begin();
    for (const RecordPtr& r : alerts) writer.add(*r);
    writer.commit(alerts.size(), alerts.size());
  }
  const std::pair<const char*, const char*> queries[] = {
      {"object seen 3 times", "SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 3"},
      {"an earlier alert", "SELECT 1 FROM alerts WHERE object_id = :object_id AND mjd_tai < :mjd_tai"},
      {"light curve >= 12", "SELECT count(*) AS n FROM lightcurve WHERE object_id = :object_id HAVING n >= 12"},
      {"bound fields only", "SELECT 1 WHERE :mag < 18.5 AND :band = 'g'"},
      {"scan of alerts", "SELECT 1 FROM alerts WHERE mag < :mag - 3"},
  };
  {
    repository::Reader reader(path.string());
    for (const auto& [name, sql] : queries) {
      repository::AlertQuery query(reader.database(), sql, repository::kDefaultQueryStepLimit);
      double best[2] = {1e30, 1e30};  // [per alert, per batch]
      size_t passed[2] = {0, 0};
      for (int round = 0; round < 5; ++round)
        for (int per_batch = 0; per_batch < 2; ++per_batch) {
          size_t count = 0;
          passed[per_batch] = 0;
          double start = cpu_seconds();
          for (const BatchView& batch : batches) {
            if (per_batch) reader.database().execute("BEGIN");
            for (size_t i = 0; i < batch.size(); ++i, ++count)
              passed[per_batch] += query.matches(static_cast<const Alert&>(batch[i]).core());
            if (per_batch) reader.database().execute("COMMIT");
          }
          best[per_batch] = std::min(best[per_batch], (cpu_seconds() - start) / static_cast<double>(count));
        }
      if (passed[0] != passed[1]) std::abort();  // one snapshot or many: the repository does not change here
      std::printf("sql filter %-20s: %8.2f us/alert, %6.2f in one read per batch  (%zu passed)  %s\n", name,
                  best[0] * 1e6, best[1] * 1e6, passed[0], sql);
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

}  // namespace

int main(int argc, char** argv) {
  const bool profile = argc > 1 && std::string(argv[1]) == "--profile";
  if (profile && argc < 4) {
    std::fprintf(stderr, "usage: filters_bench [BATCHES] | --profile actor|evaluation N [ROUNDS [TAG]]\n");
    return 2;
  }
  size_t batch_count = argc > 1 && !profile ? std::strtoul(argv[1], nullptr, 10) : 20;
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
  if (profile) {
    const std::string what = argv[2];
    const size_t n = std::min<size_t>(1000, std::strtoul(argv[3], nullptr, 10));
    const int rounds = argc > 4 ? std::atoi(argv[4]) : 100;
    std::vector<std::string> some(texts.begin(), texts.begin() + static_cast<long>(n));
    double rate = 0;
    if (what == "actor") {
      YAML::Node config;
      for (size_t i = 0; i < n; ++i) config["filters"]["user" + std::to_string(i)] = some[i];
      if (argc > 5) config["tag"] = argv[5];
      Instance instance("filters", config);
      uint64_t passed = 0;
      for (int round = 0; round < rounds; ++round) rate = std::max(rate, alerts_per_second(instance, batches, passed));
    } else {
      Evaluation evaluation(std::get<expr::ProgramSet>(expr::ProgramSet::compile(some)));
      for (int round = 0; round < rounds; ++round) rate = std::max(rate, evaluations_per_second(evaluation, batches));
    }
    std::printf("%s %zu: %10.0f alerts/s\n", what.c_str(), n, rate);
    return 0;
  }
  const size_t sizes[] = {1, 100, 1000};
  const char* tags[] = {"filters", "count", "none"};
  std::vector<std::unique_ptr<Instance>> instances;  // [tag][size]
  for (const char* tag : tags)
    for (size_t n : sizes) {
      YAML::Node config;
      for (size_t i = 0; i < n; ++i) config["filters"]["user" + std::to_string(i)] = texts[i];
      config["tag"] = tag;
      instances.push_back(std::make_unique<Instance>("filters", config));
    }
  std::vector<std::unique_ptr<Evaluation>> sets;
  for (size_t n : sizes)
    sets.push_back(std::make_unique<Evaluation>(std::get<expr::ProgramSet>(
        expr::ProgramSet::compile(std::vector<std::string>(texts.begin(), texts.begin() + static_cast<long>(n))))));
  YAML::Node single;
  single["where"] = texts[0];
  Instance filter("filter", single);

  double best[9] = {}, best_single = 0, best_eval[3] = {0, 0, 0};
  uint64_t passed[9] = {}, passed_single = 0;
  for (int round = 0; round < 5; ++round) {
    for (size_t s = 0; s < 9; ++s) best[s] = std::max(best[s], alerts_per_second(*instances[s], batches, passed[s]));
    best_single = std::max(best_single, alerts_per_second(filter, batches, passed_single));
    for (size_t s = 0; s < 3; ++s) best_eval[s] = std::max(best_eval[s], evaluations_per_second(*sets[s], batches));
  }
  std::printf("alerts       : %zu real ZTF alerts repeated into %zu batches of 1024\n", alerts.size(), batches.size());
  std::printf("filter (1)   : %10.0f alerts/s  (%llu passed)\n", best_single, static_cast<unsigned long long>(passed_single));
  for (size_t t = 0; t < 3; ++t)
    for (size_t s = 0; s < 3; ++s) {
      const size_t i = t * 3 + s;
      std::printf("filters %-5zu tag %-7s: %10.0f alerts/s  (%llu passed at least one)  %5.1f %% of 1 filter\n", sizes[s],
                  tags[t], best[i], static_cast<unsigned long long>(passed[i]), 100 * best[i] / best[t * 3]);
    }
  for (size_t s = 0; s < 3; ++s) {
    expr::ProgramSet::Shape shape = sets[s]->set.shape();
    std::printf("evaluation %-5zu: %10.0f alerts/s  %5.1f %% of 1 filter  (graph: %zu nodes for %zu unshared, %zu swept cuts)\n",
                sizes[s], best_eval[s], 100 * best_eval[s] / best_eval[0], shape.nodes, shape.unshared_nodes, shape.swept_cuts);
  }
  sql_filter_costs(alerts, batches);
  if (passed[0] != passed_single || passed[3] != passed_single || passed[6] != passed_single) {
    std::fprintf(stderr, "filters_bench: `filters` with one filter and `filter` disagree\n");
    return 1;
  }
  return 0;
}
