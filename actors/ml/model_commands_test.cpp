#include "actors/ml/model_commands.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/model_command_runner.h"
#include "actors/ml/light_curve_features.h"
#include "test/support/ml_oracle.h"
#include "actors/ml/synthetic_light_curves.h"

using namespace ebs::ml;
using ebs::ml::testing::TempDir;
using nlohmann::json;

namespace {

using Result = ebs::ml::testing::CommandOutput;
Result run(std::vector<std::string> args) { return ebs::ml::testing::run_model_command(std::move(args)); }

// A labelled training set from synthetic light curves: several alerts per object, so that a leaky
// split would show.
void write_training_csv(const std::string& path, uint64_t seed, size_t objects) {
  SyntheticOptions o;
  o.objects = objects;
  o.alerts_per_object = 4;
  o.history = 6;
  o.seed = seed;
  const FeatureSet& set = *find_feature_set("lc-basic/1");
  FeatureExtractor x(set);
  std::vector<float> v(x.size());
  std::ofstream out(path);
  out.precision(9);
  out << "object_id,mjd,label";
  for (const std::string& n : set.names) out << "," << n;
  out << "\n";
  for (const LabelledAlert& a : make_synthetic_alerts(o)) {
    x.extract(*a.alert, v.data());
    out << a.alert->object_id << "," << a.alert->mjd_tai << "," << (a.label ? "SN" : "VAR");
    for (float f : v) {
      out << ",";
      if (!std::isnan(f)) out << f;
    }
    out << "\n";
  }
}

}  // namespace

TEST_CASE("model train on synthetic light curves reaches ROC AUC > 0.9 on held-back objects, by object and by time") {
  TempDir dir;
  write_training_csv(dir / "train.csv", 11, 600);
  for (const char* split : {"object", "time"}) {
    Result r = run({"model", "train", "--data", dir / "train.csv", "--out", dir / (std::string(split) + ".ubj"),
                    "--feature-set", "lc-basic/1", "--positive", "SN", "--negative", "VAR", "--split", split,
                    "--trees", "100", "--depth", "4"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    json result = r.lines().at(0);
    INFO(result.dump());
    CHECK(result["trees"] == 100);
    CHECK(result["format"] == "ubj");
    CHECK(result["features"] == 23);
    CHECK(result["test_rows"].get<int>() > 300);
    CHECK(result["metrics"]["roc_auc"].get<double>() > 0.9);
    CHECK(result["metrics"]["confusion"]["tp"].get<int>() > 0);

    // eval with the same split reproduces the held-back figures.
    Result e = run({"model", "eval", "--model", dir / (std::string(split) + ".ubj"), "--data", dir / "train.csv",
                    "--positive", "SN", "--negative", "VAR", "--split", split});
    REQUIRE(e.exit_code == 0);
    CHECK(e.lines().at(0)["metrics"] == result["metrics"]);
  }
  // A fresh set from another seed: the model generalises.
  write_training_csv(dir / "fresh.csv", 12, 200);
  Result e = run({"model", "eval", "--model", dir / "object.ubj", "--data", dir / "fresh.csv", "--positive", "SN",
                  "--negative", "VAR", "--threshold", "0.5"});
  REQUIRE(e.exit_code == 0);
  CHECK(e.lines().at(0)["metrics"]["roc_auc"].get<double>() > 0.9);
  CHECK(e.lines().at(0)["metrics"]["count"] == 800);
}

TEST_CASE("register, list, show, compare and promote through the CLI; a worse model is refused") {
  TempDir dir;
  write_training_csv(dir / "train.csv", 21, 300);
  write_training_csv(dir / "test.csv", 22, 150);
  std::string registry = dir / "models.sqlite";
  std::vector<std::string> classes{"--positive", "SN", "--negative", "VAR"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), classes.begin(), classes.end());
    return run(args);
  };
  Result good = with({"model", "train", "--data", dir / "train.csv", "--out", dir / "good.json", "--feature-set",
                      "lc-basic/1", "--trees", "60", "--register", "sn", "--registry", registry});
  INFO(good.err);
  REQUIRE(good.exit_code == 0);
  CHECK(good.lines()[0]["registered"]["version"] == 1);
  CHECK(good.lines()[0]["registered"]["feature_set"] == "lc-basic/1");
  // A deliberately weak model: one stump.
  Result weak = with({"model", "train", "--data", dir / "train.csv", "--out", dir / "weak.json", "--feature-set",
                      "lc-basic/1", "--trees", "1", "--depth", "1"});
  REQUIRE(weak.exit_code == 0);
  Result reg = run({"model", "register", "--registry", registry, "--name", "sn", "--file", dir / "weak.json",
                    "--feature-set", "lc-basic/1", "--training-data", "train.csv"});
  REQUIRE(reg.exit_code == 0);
  CHECK(reg.lines()[0]["version"] == 2);
  CHECK(reg.lines()[0]["state"] == "candidate");

  Result list = run({"model", "list", "--registry", registry});
  REQUIRE(list.exit_code == 0);
  CHECK(list.lines().size() == 2);

  Result promote1 = with({"model", "promote", "sn", "--registry", registry, "--version", "1", "--data", dir / "test.csv"});
  INFO(promote1.err);
  REQUIRE(promote1.exit_code == 0);
  CHECK(promote1.lines()[0]["state"] == "production");
  CHECK(promote1.lines()[0]["metrics"]["roc_auc"].get<double>() > 0.9);

  Result compare = with({"model", "compare", "--registry", registry, "--a", "registry://sn@1", "--b", "registry://sn@2",
                         "--data", dir / "test.csv"});
  REQUIRE(compare.exit_code == 0);
  json c = compare.lines()[0];
  CHECK(c["a"]["metrics"]["roc_auc"].get<double>() > c["b"]["metrics"]["roc_auc"].get<double>());
  CHECK(c["b_minus_a"]["roc_auc"].get<double>() < 0);

  Result refused = with({"model", "promote", "sn", "--registry", registry, "--version", "2", "--data", dir / "test.csv"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find(registry + ":sn@2: refused: roc_auc ") == 0);
  Result show = run({"model", "show", "sn", "--registry", registry});
  REQUIRE(show.exit_code == 0);
  CHECK(show.lines()[0]["version"] == 1);  // production is unchanged
  CHECK(run({"model", "show", "sn", "--registry", registry, "--version", "2"}).lines()[0]["state"] == "candidate");

  Result forced = run({"model", "promote", "sn", "--registry", registry, "--version", "2", "--force"});
  REQUIRE(forced.exit_code == 0);
  CHECK(forced.lines()[0]["previous_production"] == "registry://sn@1");
  CHECK(run({"model", "show", "sn", "--registry", registry, "--version", "1"}).lines()[0]["state"] == "retired");
}

TEST_CASE("model synthetic writes a labelled set that model train reads") {
  TempDir dir;
  Result r = run({"model", "synthetic", "--out", dir / "s.csv", "--objects", "40", "--alerts-per-object", "2"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.lines()[0]["rows"] == 80);
  Result t = run({"model", "train", "--data", dir / "s.csv", "--out", dir / "m.json", "--feature-set", "lc-basic/1",
                  "--trees", "5", "--split", "none"});
  INFO(t.err);
  REQUIRE(t.exit_code == 0);
  CHECK(t.lines()[0]["train_rows"] == 80);
  CHECK(t.lines()[0]["test_rows"] == 0);
}

TEST_CASE("bad inputs: unknown label classes, missing and corrupt models name their file and row") {
  TempDir dir;
  {
    std::ofstream out(dir / "bad.csv");
    out << "object_id,mjd,label,x\nA,1,1,0.5\nB,2,0,0.1\nC,3,SNIa?,0.2\n";
  }
  Result r = run({"model", "train", "--data", dir / "bad.csv", "--out", dir / "m.json"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == dir / "bad.csv" +
                     ":row 4:column label: label 'SNIa?' is not a known class (positive: 1, true, yes; negative: 0, "
                     "false, no)\n");
  Result missing = run({"model", "eval", "--model", dir / "absent.json", "--data", dir / "bad.csv"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == dir / "absent.json" + ": cannot open the model file\n");
  {
    std::ofstream out(dir / "corrupt.ubj", std::ios::binary);
    out << "{L\x00\x00";
  }
  Result corrupt = run({"model", "register", "--registry", dir / "r.sqlite", "--name", "x", "--file", dir / "corrupt.ubj"});
  CHECK(corrupt.exit_code == 1);
  CHECK(corrupt.err.rfind(dir / "corrupt.ubj: x (being registered): corrupt model", 0) == 0);
  Result no_registry = run({"model", "list", "--registry", ""});
  CHECK(no_registry.exit_code == 1);
  CHECK(no_registry.err == "--registry: no model registry: pass --registry FILE or set EBS_MODEL_REGISTRY\n");
}
