#include "actors/ml/xgboost_model.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "test/support/ml_oracle.h"
#include "engine/util/fault.h"

using namespace ebs::ml;
using ebs::ml::testing::TempDir;

namespace {

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// y = 1 when x0 + x1 > 1; x2 is noise and often missing.
void make_csv(const std::string& path, size_t rows, std::vector<float>* features = nullptr) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(0, 1);
  std::ofstream out(path);
  out << "label,alpha,beta,gamma\n";
  for (size_t i = 0; i < rows; ++i) {
    float a = u(rng), b = u(rng), c = u(rng) < 0.3 ? NAN : u(rng);
    out << (a + b > 1 ? 1 : 0) << "," << a << "," << b << "," << (std::isnan(c) ? std::string("nan") : std::to_string(c))
        << "\n";
    if (features) features->insert(features->end(), {a, b, c});
  }
}

}  // namespace

TEST_CASE("models written by Python xgboost as JSON and UBJSON predict Python's scores to 1e-6") {
  TempDir dir;
  // The features go through text once; read back what the CSV says so both sides see the same values.
  make_csv(dir / "set.csv", 400);
  testing::python_train(dir / "set.csv", dir / "model");
  std::vector<float> features;
  {
    std::ifstream in(dir / "set.csv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream s(line);
      std::string cell;
      std::getline(s, cell, ',');
      while (std::getline(s, cell, ',')) features.push_back(cell == "nan" ? NAN : std::stof(cell));
    }
  }
  std::vector<double> expected = testing::read_numbers(dir / "model.pred");
  REQUIRE(expected.size() == 400);
  for (const char* ext : {".json", ".ubj"}) {
    XgboostModel m = XgboostModel::from_file(dir / (std::string("model") + ext));
    CHECK(m.feature_names() == std::vector<std::string>{"alpha", "beta", "gamma"});
    CHECK(m.feature_count() == 3);
    CHECK(m.tree_count() == 30);
    CHECK(m.attribute("version") == "7");
    CHECK(m.attribute("absent").empty());
    CHECK(m.content_hash().size() == 16);
    std::vector<float> scores = m.predict(features);
    double worst = 0;
    for (size_t i = 0; i < scores.size(); ++i) worst = std::max(worst, std::abs(scores[i] - expected[i]));
    INFO(ext << " worst difference " << worst);
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("training through the C API learns, records feature names, and survives a save/load round trip") {
  std::vector<float> features, labels;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 500; ++i) {
    float a = u(rng), b = u(rng);
    features.insert(features.end(), {a, b});
    labels.push_back(a > b ? 1 : 0);
  }
  TrainParameters p;
  p.rounds = 20;
  p.max_depth = 3;
  XgboostModel m = XgboostModel::train(features, labels, {"a", "b"}, p);
  CHECK(m.tree_count() == 20);
  CHECK(m.feature_names() == std::vector<std::string>{"a", "b"});
  std::vector<float> scores = m.predict(features);
  size_t right = 0;
  for (size_t i = 0; i < scores.size(); ++i) right += (scores[i] >= 0.5) == (labels[i] > 0.5);
  CHECK(right > 470);
  for (const char* format : {"json", "ubj"}) {
    XgboostModel again = XgboostModel::from_bytes(m.save(format), format);
    CHECK(again.predict(features) == scores);
    CHECK(again.feature_names() == m.feature_names());
  }
  CHECK_THROWS_WITH_AS(m.save("deprecated"), "train: model format must be json or ubj", ebs::Fault);
  CHECK_THROWS_AS(XgboostModel::train(features, labels, {"a"}, p), ebs::Fault);
}

TEST_CASE("missing, empty, corrupt and multi-class model files are errors naming the file") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(XgboostModel::from_file(dir / "absent.json"),
                       (dir / "absent.json" + ": cannot open the model file").c_str(), ebs::Fault);
  write(dir / "empty.json", "");
  CHECK_THROWS_WITH_AS(XgboostModel::from_file(dir / "empty.json"), (dir / "empty.json" + ": the model file is empty").c_str(),
                       ebs::Fault);
  write(dir / "text.json", "hello");
  CHECK_THROWS_WITH_AS(XgboostModel::from_file(dir / "text.json"),
                       doctest::Contains((dir / "text.json" + ": not an XGBoost JSON or UBJSON model").c_str()),
                       ebs::Fault);
  write(dir / "broken.json", "{\"learner\": {\"attributes\": {}, \"gradient_booster\": ");
  CHECK_THROWS_WITH_AS(XgboostModel::from_file(dir / "broken.json"),
                       doctest::Contains((dir / "broken.json" + ": corrupt model").c_str()), ebs::Fault);
  testing::run_python_oracle(
      "import numpy as np, xgboost as xgb\n"
      "X = np.random.RandomState(0).rand(60, 2); y = (X[:, 0] * 3).astype(int)\n"
      "b = xgb.train({'objective': 'multi:softprob', 'num_class': 3, 'nthread': 1}, xgb.DMatrix(X, label=y), 3)\n"
      "b.save_model('" + dir / "multi.json" + "')\n");
  CHECK_THROWS_WITH_AS(XgboostModel::from_file(dir / "multi.json"),
                       doctest::Contains("gives 3 outputs per row; only binary classifiers and regressors"), ebs::Fault);
}
