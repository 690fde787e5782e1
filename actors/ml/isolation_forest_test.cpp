#include "actors/ml/isolation_forest.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "actors/ml/binary_metrics.h"
#include "actors/ml/ml_actors.h"
#include "actors/ml/model_registry.h"
#include "actors/ml/model_source.h"
#include "actors/ml/synthetic_light_curves.h"
#include "engine/util/fault.h"
#include "test/support/collecting_emitter.h"
#include "test/support/ml_oracle.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::ml;
using ebs::ml::testing::TempDir;

namespace {

// 1,000 N(0, I) inliers in 10 dimensions, then 10 outliers at 6 sigma (a random direction scaled
// to length 6), labels 1 for the outliers.
void planted(std::vector<float>& rows, std::vector<float>& labels) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(0, 1);
  for (int i = 0; i < 1010; ++i) {
    std::vector<double> x(10);
    double norm = 0;
    for (double& v : x) {
      v = normal(rng);
      norm += v * v;
    }
    const bool outlier = i >= 1000;
    for (double v : x) rows.push_back(static_cast<float>(outlier ? 6 * v / std::sqrt(norm) : v));
    labels.push_back(outlier ? 1 : 0);
  }
}

std::vector<std::string> column_names(size_t n) {
  std::vector<std::string> names;
  for (size_t k = 0; k < n; ++k) names.push_back("x" + std::to_string(k));
  return names;
}

}  // namespace

TEST_CASE("isolation forest: planted 6-sigma outliers rank on top (ROC AUC >= 0.95), seeded, scores on the paper's scale") {
  std::vector<float> rows, labels;
  planted(rows, labels);
  IsolationForestParameters p;
  p.trees = 100;
  p.seed = 7;
  IsolationForest forest = IsolationForest::train(rows, column_names(10), p);
  std::vector<float> scores = forest.score_rows(rows);
  BinaryMetrics m = evaluate_scores(scores, labels, 0.5);
  INFO("ROC AUC " << m.roc_auc);
  CHECK(m.roc_auc >= 0.95);
  double inlier_mean = 0, outlier_min = 1;
  for (size_t i = 0; i < 1000; ++i) inlier_mean += scores[i] / 1000.0;
  for (size_t i = 1000; i < 1010; ++i) outlier_min = std::min<double>(outlier_min, scores[i]);
  CHECK(inlier_mean < 0.5);   // ordinary rows score below 0.5 ...
  CHECK(outlier_min > 0.5);   // ... anomalies above it (s = 2^(-E[h]/c(256)))

  // The same seed gives the same trees (the same bytes); another seed other trees, a similar AUC.
  CHECK(IsolationForest::train(rows, column_names(10), p).save() == forest.save());
  p.seed = 8;
  IsolationForest other = IsolationForest::train(rows, column_names(10), p);
  CHECK(other.save() != forest.save());
  CHECK(evaluate_scores(other.score_rows(rows), labels, 0.5).roc_auc >= 0.95);
  CHECK(IsolationForest::average_path_length(256) == doctest::Approx(10.2448).epsilon(1e-4));
}

TEST_CASE("isolation forest: the exported trees give the same scores in an independent Python evaluation") {
  TempDir dir;
  std::vector<float> rows, labels;
  planted(rows, labels);
  for (size_t i = 0; i < 1010; i += 9) rows[i * 10 + 3] = NAN;  // missing values: the training medians
  IsolationForestParameters p;
  p.trees = 50;
  p.sample_size = 128;
  IsolationForest forest = IsolationForest::train(rows, column_names(10), p);
  {
    std::ofstream model(dir / "forest.json");
    model << forest.save();
    std::ofstream csv(dir / "rows.csv");
    csv.precision(9);
    for (size_t i = 0; i < 1010; ++i) {
      for (size_t k = 0; k < 10; ++k) csv << (k ? "," : "") << (std::isnan(rows[i * 10 + k]) ? std::string("nan") : std::to_string(rows[i * 10 + k]));
      csv << "\n";
    }
  }
  // Read back what the CSV says, so both sides score the same values.
  std::vector<float> read;
  std::vector<double> values = [&] {
    std::vector<double> v;
    std::ifstream csv(dir / "rows.csv");
    std::string line;
    while (std::getline(csv, line)) {
      std::stringstream s(line);
      for (std::string cell; std::getline(s, cell, ',');) v.push_back(cell == "nan" ? NAN : std::stod(cell));
    }
    return v;
  }();
  for (double v : values) read.push_back(static_cast<float>(v));
  std::vector<float> scores = forest.score_rows(read);
  ebs::test::run_python_oracle(
      "import json, math\n"
      "import numpy as np\n"
      "f = json.load(open('" + dir / "forest.json" + "'))['isolation_forest']\n"
      "X = np.genfromtxt('" + dir / "rows.csv" + "', delimiter=',').astype(np.float32)\n"
      "med = np.array(f['medians'], dtype=np.float32)\n"
      "X = np.where(np.isnan(X), med, X)\n"
      "def c(n):\n"
      "    if n <= 1: return 0.0\n"
      "    if n == 2: return 1.0\n"
      "    return 2 * (math.log(n - 1) + 0.5772156649) - 2 * (n - 1) / n\n"
      "def path(t, x):\n"
      "    node, depth = 0, 0\n"
      "    while t['feature'][node] >= 0:\n"
      "        node = t['left'][node] if x[t['feature'][node]] < np.float32(t['threshold'][node]) else t['right'][node]\n"
      "        depth += 1\n"
      "    return depth + c(t['size'][node])\n"
      "with open('" + dir / "python.txt" + "', 'w') as out:\n"
      "    for x in X:\n"
      "        h = sum(path(t, x) for t in f['trees']) / len(f['trees'])\n"
      "        out.write('%.9g\\n' % 2 ** (-h / c(f['sample_size'])))\n");
  std::vector<double> expected = testing::read_numbers(dir / "python.txt");
  REQUIRE(expected.size() == scores.size());
  double worst = 0;
  for (size_t i = 0; i < scores.size(); ++i) worst = std::max(worst, std::abs(scores[i] - expected[i]));
  INFO("worst difference " << worst);
  CHECK(worst < 1e-6);

  // Loaded back from its bytes, the same scores and the same content hash.
  IsolationForest loaded = IsolationForest::from_bytes(forest.save(), "forest.json");
  CHECK(loaded.content_hash() == forest.content_hash());
  CHECK(loaded.score_rows(read) == scores);
  CHECK_THROWS_AS(IsolationForest::from_bytes("{\"isolation_forest\": {\"format_version\": 1}}", "bad.json"), Fault);
}

TEST_CASE("the anomaly actor scores alerts with a registered isolation forest; versions on one scale") {
  TempDir dir;
  SyntheticOptions o;
  o.objects = 300;
  o.history = 10;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  const FeatureSet& set = *find_feature_set("lc-basic/1");
  FeatureExtractor x(set);
  std::vector<float> rows(alerts.size() * set.names.size());
  for (size_t i = 0; i < alerts.size(); ++i) x.extract(*alerts[i].alert, rows.data() + i * set.names.size());
  const std::string path = dir / "models.sqlite";
  {
    ModelRegistry registry(path);
    IsolationForestParameters p;
    p.seed = 1;
    ModelEntry v1 = registry.add({"odd", IsolationForest::train(rows, set.names, p).save(), "lc-basic/1", {}, "", {}});
    CHECK(v1.format == "iforest");
    registry.promote("odd", 1, "roc_auc", true);
    p.seed = 2;
    registry.add({"odd", IsolationForest::train(rows, set.names, p).save(), "lc-basic/1", {}, "", {}});
  }
  ActorRegistry actors;
  register_ml_actors(actors);
  const ActorType& type = *actors.find("anomaly");
  std::string yaml = "{registry: '" + path + "', models: [registry://odd, {model: 'registry://odd@2', shadow: true}]}";
  std::vector<Problem> problems;
  type.check(ebs::test::make_context(type, yaml).config, problems);
  CHECK(problems.empty());
  ebs::test::OpenActor anomaly(register_ml_actors, "anomaly", yaml, dir.path().string());
  ebs::test::CollectingEmitter out;
  std::vector<RecordPtr> records;
  for (const LabelledAlert& a : alerts) records.push_back(std::make_shared<const Alert>(a.alert));
  anomaly.run(std::move(records), out);
  anomaly.logic().on_end_of_stream(out);
  REQUIRE(out.forwarded_records == alerts.size());
  std::vector<ShadowTally> tallies = ModelRegistry(path).shadow_tallies("odd");
  REQUIRE(tallies.size() == 1);
  nlohmann::json summary = tallies[0].summary();
  // Two seeds, one normalisation: the versions' scores are on the same scale.
  CHECK(std::abs(summary["production_mean"].get<double>() - summary["shadow_mean"].get<double>()) < 0.03);
  CHECK(summary["correlation"].get<double>() > 0.8);

  // An XGBoost model is not an anomaly detector.
  problems.clear();
  type.check(ebs::test::make_context(type, "{models: ['" + (ebs::test::source_dir() / "models" / "example-transient-lc-basic-1.ubj").string() + "']}").config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("is not an isolation forest") != std::string::npos);
}
