// ml_bench [--quick]: alerts per second per core for features (lc-basic/1, no Bazin fit) plus
// scoring with a 100-tree XGBoost model through the xgboost-score actor logic, at batch 1, 64 and
// 1024, next to XGBoost alone predicting the same precomputed rows in the same run; features
// alone; the same scorer with a shadow model beside production; and Bazin fits per second
// (lc-bazin/1 costs). One thread, timed in thread CPU time:
// figures are per core, whatever else the machine runs.
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "actors/ml/bazin_fit.h"
#include "actors/ml/light_curve_features.h"
#include "actors/ml/ml_actors.h"
#include "actors/ml/synthetic_light_curves.h"
#include "actors/ml/xgboost_model.h"
#include "engine/runtime/actor_logic.h"

using namespace ebs;
using namespace ebs::ml;

namespace {

// Counts what the scorer sends and keeps nothing.
class CountingEmitter final : public Emitter {
 public:
  size_t forwarded = 0;
  void forward(size_t, BatchView b) override { forwarded += b.size(); }
  void emit(size_t, BatchView) override {}
  void filtered(size_t) override {}
  void failed(const RecordPtr&, const Fault&, const std::vector<AckRef>&) override {}
  void failed_raw(std::string, std::string, const Fault&, const std::vector<AckRef>&) override {}
  void read(size_t) override {}
  void delivered(size_t) override {}
};

// This thread's CPU time: per-core rates that hold on a machine shared with other builds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs `work` (which handles `per_call` items) repeatedly for about `seconds` of CPU time; items
// per CPU second.
double rate(double seconds, size_t per_call, const std::function<void()>& work) {
  work();  // warm up
  size_t calls = 0;
  double start = thread_cpu_seconds(), elapsed = 0;
  do {
    work();
    ++calls;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(calls * per_call) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  double seconds = quick ? 0.3 : 1.5;
  const FeatureSet& basic = *find_feature_set("lc-basic/1");

  // 4096 alerts with 20 past points each (ZTF-like magnitudes).
  SyntheticOptions options;
  options.objects = 4096;
  options.history = 20;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(options);
  FeatureExtractor extractor(basic);
  std::vector<float> rows(alerts.size() * extractor.size()), labels;
  for (size_t i = 0; i < alerts.size(); ++i) {
    extractor.extract(*alerts[i].alert, rows.data() + i * extractor.size());
    labels.push_back(static_cast<float>(alerts[i].label));
  }
  TrainParameters p;
  p.rounds = 100;
  p.max_depth = 6;
  p.threads = 2;
  XgboostModel model = XgboostModel::train(rows, labels, basic.names, p);
  auto model_path = std::filesystem::temp_directory_path() / ("ml_bench_" + std::to_string(::getpid()) + ".ubj");
  {
    std::ofstream out(model_path, std::ios::binary);
    out << model.save("ubj");
  }
  XgboostModel alone = XgboostModel::from_file(model_path.string());  // nthread = 1, as the scorer
  std::printf("model: %zu trees, depth <= 6, %zu features (lc-basic/1); %zu alerts, 20 past points each\n",
              alone.tree_count(), alone.feature_count(), alerts.size());

  ActorRegistry registry;
  register_ml_actors(registry);
  const ActorType& type = *registry.find("xgboost-score");
  ActorContext context;
  context.actor_id = "bench";
  context.type_name = type.name;
  context.type_version = type.version;
  context.type = &type;
  context.config = ActorConfig(YAML::Load("{models: ['" + model_path.string() + "']}"), "bench.yaml", &type.config);
  auto scorer = type.create(context);
  scorer->open(context);
  // The same model again as a shadow: one more prediction per batch, plus the agreement tally.
  ActorContext shadow_context = context;
  shadow_context.config = ActorConfig(YAML::Load("{models: ['" + model_path.string() + "', {model: '" +
                                                 model_path.string() + "', shadow: true}]}"),
                                      "bench.yaml", &type.config);
  auto shadowed = type.create(shadow_context);
  shadowed->open(shadow_context);

  std::printf("\n%-8s %22s %26s %10s %24s %8s\n", "batch", "XGBoost alone rows/s", "features+score alerts/s", "ratio",
              "+ a shadow alerts/s", "vs one");
  for (size_t batch : {size_t(1), size_t(64), size_t(1024)}) {
    std::vector<BatchView> batches;
    for (size_t start = 0; start + batch <= alerts.size(); start += batch) {
      std::vector<RecordPtr> records;
      for (size_t i = start; i < start + batch; ++i) records.push_back(std::make_shared<const Alert>(alerts[i].alert));
      batches.push_back(BatchView::make(PortType::alert, std::move(records), {}));
    }
    std::vector<float> scores(batch);
    size_t next = 0;
    double xgb = rate(seconds, batch, [&] {
      size_t at = (next++ % batches.size()) * batch;
      alone.predict(rows.data() + at * extractor.size(), batch, scores.data());
    });
    CountingEmitter out;
    next = 0;
    double full = rate(seconds, batch, [&] { scorer->on_batch(0, batches[next++ % batches.size()], out); });
    next = 0;
    double with_shadow = rate(seconds, batch, [&] { shadowed->on_batch(0, batches[next++ % batches.size()], out); });
    std::printf("%-8zu %22.0f %26.0f %10.2f %24.0f %8.2f\n", batch, xgb, full, full / xgb, with_shadow,
                with_shadow / full);
  }

  std::vector<float> one(extractor.size());
  size_t next = 0;
  double features = rate(seconds, 1, [&] { extractor.extract(*alerts[next++ % alerts.size()].alert, one.data()); });
  std::printf("\nfeatures lc-basic/1 alone: %.0f alerts/s (%.0f ns per alert)\n", features, 1e9 / features);

  // Bazin fits: the band with most points of a 30-point two-band light curve (15 points).
  FeatureExtractor with_bazin(*find_feature_set("lc-bazin/1"));
  std::vector<float> z(with_bazin.size());
  SyntheticOptions rich = options;
  rich.objects = 512;
  rich.history = 30;
  rich.rubin_fluxes = true;  // difference fluxes: every point has a flux, so every fit runs
  std::vector<LabelledAlert> rich_alerts = make_synthetic_alerts(rich);
  next = 0;
  double bazin = rate(seconds, 1, [&] { with_bazin.extract(*rich_alerts[next++ % rich_alerts.size()].alert, z.data()); });
  std::vector<double> t, f, e;
  BazinParameters truth{5000, 60010, 3, 25, 0};
  for (int i = 0; i < 20; ++i) {
    t.push_back(59995 + 2.5 * i);
    f.push_back(bazin_flux(truth, t.back()) + 40 * std::sin(i * 7.0));
    e.push_back(50);
  }
  BazinFitter fitter;
  double fits = rate(seconds, 1, [&] { (void)fitter.fit(t, f, e); });
  std::printf("lc-bazin/1 (features + one Bazin fit, 15-16 points): %.0f alerts/s (%.1f us per alert)\n", bazin,
              1e6 / bazin);
  std::printf("Bazin fit alone (20 points): %.0f fits/s (%.1f us per fit)\n", fits, 1e6 / fits);
  std::filesystem::remove(model_path);
  return 0;
}
