// `model train --kind isolation-forest` from a repository's stored alerts and `model suggest`
// (active learning): what to label next, and labels closing the loop through `model label`.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "actors/ml/model_registry.h"
#include "actors/ml/model_source.h"
#include "test/support/ml_oracle.h"
#include "test/support/model_command_runner.h"
#include "test/support/synthetic_repository.h"
#include "test/support/test_data.h"

using namespace ebs::ml;
using ebs::ml::testing::run_model_command;
using ebs::ml::testing::store_synthetic_alerts;
using ebs::ml::testing::TempDir;
using nlohmann::json;

namespace {

std::map<std::string, int> store(const std::string& db) {
  SyntheticOptions o;
  o.objects = 200;
  o.alerts_per_object = 2;
  o.history = 8;
  o.seed = 5;
  std::map<std::string, int> truth;
  for (const LabelledAlert& a : store_synthetic_alerts(db, o)) truth[a.alert->object_id] = a.label;
  return truth;
}

}  // namespace

TEST_CASE("model train --kind isolation-forest takes every stored alert; model suggest ranks the most anomalous") {
  TempDir dir;
  std::map<std::string, int> truth = store(dir / "repo.db");
  auto trained = run_model_command({"model", "train", "--kind", "isolation-forest", "--repository", dir / "repo.db",
                                    "--out", dir / "odd.json", "--seed", "3", "--register", "odd", "--registry",
                                    dir / "models.sqlite"});
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  json t = trained.lines().at(0);
  CHECK(t["format"] == "iforest");
  CHECK(t["train_rows"] == 400);  // no labels needed: both alerts of every object
  CHECK(t["trees"] == 100);
  CHECK(t["registered"]["reference"] == "registry://odd@1");
  CHECK(t["registered"]["format"] == "iforest");
  CHECK(t["registered"]["feature_set"] == "lc-basic/1");
  // The same seed, the same forest: the content hash is reproducible.
  auto again = run_model_command({"model", "train", "--kind", "isolation-forest", "--repository", dir / "repo.db",
                                  "--out", dir / "odd2.json", "--seed", "3"});
  REQUIRE(again.exit_code == 0);
  CHECK(again.lines().at(0)["content_hash"] == t["content_hash"]);

  auto suggested = run_model_command({"model", "suggest", "--model", "registry://odd@1", "--registry",
                                      dir / "models.sqlite", "--repository", dir / "repo.db", "--n", "10", "--url",
                                      "http://broker.example:8080/"});
  INFO(suggested.err);
  REQUIRE(suggested.exit_code == 0);
  std::vector<json> lines = suggested.lines();
  REQUIRE(lines.size() == 10);
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["rank"] == i + 1);
    CHECK(lines[i]["url"] == "http://broker.example:8080/objects/" + lines[i]["object_id"].get<std::string>());
    if (i) CHECK(lines[i]["anomaly"].get<double>() <= lines[i - 1]["anomaly"].get<double>());
  }
}

TEST_CASE("model suggest: a classifier's most uncertain unlabelled objects; labelled ones drop out") {
  TempDir dir;
  std::map<std::string, int> truth = store(dir / "repo.db");
  {
    ModelRegistry registry(dir / "models.sqlite");
    std::ifstream file(ebs::test::source_dir() / "models" / "example-transient-lc-basic-1.ubj", std::ios::binary);
    std::stringstream bytes;
    bytes << file.rdbuf();
    registry.add({"transient", bytes.str(), "lc-basic/1", {}, "", {}});
    registry.promote("transient", 1, "roc_auc", true);
  }
  auto suggest = [&] {
    auto r = run_model_command({"model", "suggest", "--model", "registry://transient", "--registry",
                                dir / "models.sqlite", "--repository", dir / "repo.db", "--n", "20"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.lines();
  };
  std::vector<json> first = suggest();
  REQUIRE(first.size() == 20);
  for (size_t i = 0; i < first.size(); ++i) {
    double s = first[i]["score"].get<double>();
    CHECK(first[i]["uncertainty"].get<double>() == doctest::Approx(1 - std::abs(2 * s - 1)).epsilon(1e-6));
    if (i) CHECK(first[i]["uncertainty"].get<double>() <= first[i - 1]["uncertainty"].get<double>());
    CHECK(first[i]["url"].get<std::string>().starts_with("http://127.0.0.1:8080/objects/"));
  }
  // A human labels the top five (model label, as for retraining): they are no longer suggested.
  {
    std::ofstream labels(dir / "labels.csv");
    labels << "object_id,label\n";
    for (size_t i = 0; i < 5; ++i) {
      const std::string id = first[i]["object_id"];
      labels << id << "," << (truth[id] ? "SN" : "VAR") << "\n";
    }
  }
  REQUIRE(run_model_command({"model", "label", dir / "repo.db", "--file", dir / "labels.csv", "--source", "vetting"})
              .exit_code == 0);
  std::vector<json> second = suggest();
  REQUIRE(second.size() == 20);
  for (size_t i = 0; i < 15; ++i) CHECK(second[i]["object_id"] == first[i + 5]["object_id"]);
}
