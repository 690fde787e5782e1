// neural_bench [--quick]: the neural and anomaly scorers' alerts per second per core, through the
// actors' own logic (inputs built from the alerts, as in a run), in one run with the XGBoost
// scorer for scale:
//   - the example stamp CNN (models/stamp-cnn-cutouts-63.pt: 3x63x63, conv 16 and 32, dense 64)
//     on the 86 real ZTF alerts, stamp decoding (gunzip, FITS, standardising) included, at batch
//     1, 64 and 256; and the network alone on ready tensors;
//   - the example GRU (models/lc-gru-lightcurve-30.pt) on synthetic alerts with 30-point curves;
//   - an isolation forest of 100 trees (anomaly actor: features + forest; the forest alone, and
//     its walk before 2026-12-04 row by row, for scale);
//   - xgboost-score with a 100-tree depth-6 model on the same synthetic alerts.
// One thread, libtorch on one thread, timed in thread CPU time: figures are per core.
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "actors/ml/isolation_forest.h"
#include "actors/ml/light_curve_features.h"
#include "actors/ml/ml_actors.h"
#include "actors/ml/model_inputs.h"
#include "actors/ml/model_source.h"
#include "actors/ml/synthetic_light_curves.h"
#include "actors/ml/xgboost_model.h"
#include "engine/runtime/actor_logic.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using namespace ebs::ml;

namespace {

class CountingEmitter final : public Emitter {
 public:
  size_t forwarded = 0, failed_records = 0;
  void forward(size_t, BatchView b) override { forwarded += b.size(); }
  void emit(size_t, BatchView) override {}
  void filtered(size_t) override {}
  void failed(const RecordPtr&, const Fault&, const std::vector<AckRef>&) override { ++failed_records; }
  void failed_raw(std::string, std::string, const Fault&, const std::vector<AckRef>&) override {}
  void read(size_t) override {}
  void delivered(size_t) override {}
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

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

struct Scorer {
  ActorContext context;
  std::unique_ptr<ActorLogic> logic;
};

Scorer scorer(const ActorRegistry& registry, const std::string& type_name, const std::string& yaml) {
  const ActorType& type = *registry.find(type_name);
  Scorer s;
  s.context.actor_id = "bench";
  s.context.type_name = type.name;
  s.context.type_version = type.version;
  s.context.type = &type;
  s.context.config = ActorConfig(YAML::Load(yaml), "bench.yaml", &type.config);
  s.logic = type.create(s.context);
  s.logic->open(s.context);
  return s;
}

// Batches of `batch` alerts cycling through `alerts`.
std::vector<BatchView> batches_of(const std::vector<std::shared_ptr<const Alert>>& alerts, size_t batch, size_t count) {
  std::vector<BatchView> out;
  size_t next = 0;
  for (size_t b = 0; b < count; ++b) {
    std::vector<RecordPtr> records;
    for (size_t i = 0; i < batch; ++i) records.push_back(alerts[next++ % alerts.size()]);
    out.push_back(BatchView::make(PortType::alert, std::move(records), {}));
  }
  return out;
}

double actor_rate(double seconds, Scorer& s, const std::vector<BatchView>& batches) {
  CountingEmitter out;
  size_t next = 0;
  double r = rate(seconds, batches[0].size(), [&] { s.logic->on_batch(0, batches[next++ % batches.size()], out); });
  if (out.failed_records) std::printf("  (%zu alerts dead-lettered)\n", out.failed_records);
  return r;
}

// The forest's walk before 2026-12-04, for scale: row by row, each row down its path until a
// leaf (a branch per level), on the same packed 16-byte nodes, built here from the saved JSON.
class RowByRowForest {
 public:
  explicit RowByRowForest(const std::string& json) {
    const nlohmann::json f = nlohmann::json::parse(json).at("isolation_forest");
    medians_ = f.at("medians").get<std::vector<float>>();
    normaliser_ = IsolationForest::average_path_length(f.at("sample_size").get<double>());
    for (const nlohmann::json& t : f.at("trees")) {
      const auto feature = t.at("feature").get<std::vector<int32_t>>();
      const auto threshold = t.at("threshold").get<std::vector<float>>();
      const auto left = t.at("left").get<std::vector<int32_t>>(), right = t.at("right").get<std::vector<int32_t>>();
      const auto size = t.at("size").get<std::vector<double>>();
      const int32_t base = static_cast<int32_t>(nodes_.size());
      roots_.push_back(base);
      for (size_t i = 0; i < feature.size(); ++i) nodes_.push_back({feature[i], threshold[i], base + left[i], base + right[i]});
      std::vector<std::pair<size_t, int>> stack{{0, 0}};
      while (!stack.empty()) {
        auto [node, depth] = stack.back();
        stack.pop_back();
        if (feature[node] < 0) {
          nodes_[base + node].value = static_cast<float>(depth + IsolationForest::average_path_length(size[node]));
          continue;
        }
        stack.push_back({static_cast<size_t>(left[node]), depth + 1});
        stack.push_back({static_cast<size_t>(right[node]), depth + 1});
      }
    }
  }
  void predict(const float* input, size_t rows, float* out) const {
    const size_t width = medians_.size();
    std::vector<float> filled(input, input + rows * width);
    for (size_t r = 0; r < rows; ++r)
      for (size_t k = 0; k < width; ++k)
        if (!std::isfinite(filled[r * width + k])) filled[r * width + k] = medians_[k];
    std::vector<double> total(rows, 0.0);
    for (int32_t root : roots_)
      for (size_t r = 0; r < rows; ++r) {
        const float* row = filled.data() + r * width;
        const Node* node = nodes_.data() + root;
        while (node->feature >= 0) node = nodes_.data() + (row[node->feature] < node->value ? node->left : node->right);
        total[r] += node->value;
      }
    for (size_t r = 0; r < rows; ++r)
      out[r] = static_cast<float>(std::exp2(-(total[r] / static_cast<double>(roots_.size())) / normaliser_));
  }

 private:
  struct Node {
    int32_t feature;
    float value;
    int32_t left, right;
  };
  std::vector<Node> nodes_;
  std::vector<int32_t> roots_;
  std::vector<float> medians_;
  double normaliser_ = 1;
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const double seconds = quick ? 0.3 : 2.0;
  const std::string models = (ebs::test::source_dir() / "models").string();
  ActorRegistry registry;
  register_ml_actors(registry);

  std::vector<std::shared_ptr<const Alert>> ztf = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3");
  for (auto& a : ebs::test::ztf_alerts("ztf/kowalski-v3.3-v4.01")) ztf.push_back(a);
  std::printf("stamp CNN (%s/stamp-cnn-cutouts-63.pt) on %zu real ZTF alerts, decoding included:\n", models.c_str(),
              ztf.size());
  Scorer cnn = scorer(registry, "torch-score", "{models: ['" + models + "/stamp-cnn-cutouts-63.pt']}");
  LoadedModel cnn_alone = load_model(models + "/stamp-cnn-cutouts-63.pt", "");
  std::unique_ptr<InputEncoder> stamps = make_input_encoder("cutouts/63", "bench");
  std::vector<float> tensors(256 * stamps->layout().width), scores(256);
  for (size_t i = 0; i < 256; ++i) stamps->encode(ztf[i % ztf.size()]->core(), tensors.data() + i * stamps->layout().width);
  size_t next = 0;
  double decode = rate(seconds, 1, [&] { stamps->encode(ztf[next++ % ztf.size()]->core(), tensors.data()); });
  std::printf("  %-8s %20s %24s\n", "batch", "torch-score alerts/s", "network alone alerts/s");
  for (size_t batch : {size_t(1), size_t(64), size_t(256)}) {
    double actor = actor_rate(seconds, cnn, batches_of(ztf, batch, 8));
    double alone = rate(seconds, batch, [&] { cnn_alone.model->predict(tensors.data(), batch, scores.data()); });
    std::printf("  %-8zu %20.0f %24.0f\n", batch, actor, alone);
  }
  std::printf("  stamp decoding alone (3 stamps): %.0f alerts/s (%.0f us per alert)\n", decode, 1e6 / decode);

  // Synthetic alerts with 30 past points: the GRU sees 30-point curves (31 with the alert's own).
  SyntheticOptions options;
  options.objects = 2048;
  options.history = 30;
  std::vector<LabelledAlert> labelled = make_synthetic_alerts(options);
  std::vector<std::shared_ptr<const Alert>> synthetic;
  for (const LabelledAlert& a : labelled) synthetic.push_back(std::make_shared<const Alert>(a.alert));
  std::printf("\nGRU (%s/lc-gru-lightcurve-30.pt) on %zu synthetic alerts, 30-point curves:\n", models.c_str(),
              synthetic.size());
  Scorer gru = scorer(registry, "torch-score", "{models: ['" + models + "/lc-gru-lightcurve-30.pt']}");
  std::printf("  %-8s %20s\n", "batch", "torch-score alerts/s");
  for (size_t batch : {size_t(1), size_t(64), size_t(256)})
    std::printf("  %-8zu %20.0f\n", batch, actor_rate(seconds, gru, batches_of(synthetic, batch, 8)));

  // Isolation forest and XGBoost on lc-basic/1 of the same alerts.
  const FeatureSet& basic = *find_feature_set("lc-basic/1");
  FeatureExtractor extractor(basic);
  std::vector<float> rows(synthetic.size() * basic.names.size()), labels;
  for (size_t i = 0; i < synthetic.size(); ++i) {
    extractor.extract(synthetic[i]->core(), rows.data() + i * basic.names.size());
    labels.push_back(static_cast<float>(labelled[i].label));
  }
  const auto dir = std::filesystem::temp_directory_path() / ("neural_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  IsolationForestParameters forest_parameters;
  IsolationForest forest = IsolationForest::train(rows, basic.names, forest_parameters);
  std::ofstream((dir / "forest.json").string()) << forest.save();
  TrainParameters p;
  p.rounds = 100;
  p.max_depth = 6;
  std::ofstream((dir / "xgb.ubj").string(), std::ios::binary) << XgboostModel::train(rows, labels, basic.names, p).save("ubj");
  Scorer anomaly = scorer(registry, "anomaly", "{models: ['" + (dir / "forest.json").string() + "']}");
  Scorer xgboost = scorer(registry, "xgboost-score", "{models: ['" + (dir / "xgb.ubj").string() + "']}");
  RowByRowForest row_by_row(forest.save());
  {
    std::vector<float> now(synthetic.size()), before(synthetic.size());
    forest.predict(rows.data(), synthetic.size(), now.data());
    row_by_row.predict(rows.data(), synthetic.size(), before.data());
    if (std::memcmp(now.data(), before.data(), now.size() * sizeof(float)) != 0)
      std::printf("  the forest's scores differ from the row-by-row walk's!\n");
  }
  std::printf("\nisolation forest (100 trees, sample 256) and XGBoost (100 trees, depth 6) on lc-basic/1:\n");
  std::printf("  %-8s %22s %24s %22s %26s\n", "batch", "forest alone rows/s", "row-by-row walk rows/s",
              "anomaly alerts/s", "xgboost-score alerts/s");
  for (size_t batch : {size_t(1), size_t(64), size_t(1024)}) {
    std::vector<float> out(batch);
    next = 0;
    double alone = rate(seconds, batch, [&] {
      size_t at = (next++ * batch) % (synthetic.size() - batch);
      forest.predict(rows.data() + at * basic.names.size(), batch, out.data());
    });
    next = 0;
    double before = rate(seconds, batch, [&] {
      size_t at = (next++ * batch) % (synthetic.size() - batch);
      row_by_row.predict(rows.data() + at * basic.names.size(), batch, out.data());
    });
    std::vector<BatchView> batches = batches_of(synthetic, batch, 16);
    std::printf("  %-8zu %22.0f %24.0f %22.0f %26.0f\n", batch, alone, before, actor_rate(seconds, anomaly, batches),
                actor_rate(seconds, xgboost, batches));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
