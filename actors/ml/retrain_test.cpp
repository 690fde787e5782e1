// Retraining policies: the trigger counts new labels, a candidate trained on shuffled labels is
// refused, one trained on true labels replaces a worse production, every decision is recorded,
// and a retired version can be rolled back to.
#include "actors/ml/retrain_policy.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "test/support/model_command_runner.h"
#include "actors/ml/model_registry.h"
#include "test/support/ml_oracle.h"
#include "test/support/synthetic_repository.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::ml;
using ebs::ml::testing::run_model_command;
using ebs::ml::testing::TempDir;
using nlohmann::json;

namespace {

constexpr double kTestFraction = 0.3;

// Object id -> true label ("SN" or "VAR") of synthetic alerts stored in `db`.
std::map<std::string, std::string> store(const std::string& db) {
  SyntheticOptions o;
  o.objects = 300;
  o.alerts_per_object = 2;
  o.history = 6;
  o.seed = 3;
  std::map<std::string, std::string> truth;
  for (const LabelledAlert& a : ebs::ml::testing::store_synthetic_alerts(db, o))
    truth[a.alert->object_id] = a.label ? "SN" : "VAR";
  return truth;
}

// The labels of the held-back objects stay true; those of training objects are shuffled.
std::map<std::string, std::string> shuffled_training_labels(const std::map<std::string, std::string>& truth) {
  std::vector<std::string> train_ids, train_labels;
  for (const auto& [id, label] : truth)
    if (!held_back_object(id, kTestFraction)) {
      train_ids.push_back(id);
      train_labels.push_back(label);
    }
  std::mt19937 rng(17);
  std::shuffle(train_labels.begin(), train_labels.end(), rng);
  std::map<std::string, std::string> out = truth;
  for (size_t i = 0; i < train_ids.size(); ++i) out[train_ids[i]] = train_labels[i];
  return out;
}

void write_labels(const std::string& path, const std::vector<std::pair<std::string, std::string>>& labels) {
  std::ofstream out(path);
  out << "object_id,label,source\n";
  for (const auto& [id, label] : labels) out << id << "," << label << ",tns\n";
}

std::vector<std::pair<std::string, std::string>> all_of(const std::map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

void write_policy(const std::string& path, const std::string& trigger, const std::string& min_improvement = "0.02") {
  std::ofstream(path) << "model: sn\n"
                         "registry: models.sqlite\n"
                         "repository: repo.db\n"
                         "features: lc-basic/1\n"
                         "labels: {positive: [SN], negative: [VAR], source: tns}\n"
                         "trigger: "
                      << trigger
                      << "\n"
                         "split: {by: object, test_fraction: 0.3}\n"
                         "metric: roc_auc\n"
                         "min_improvement: "
                      << min_improvement
                      << "\n"
                         "training: {trees: 20, depth: 3, seed: 1}\n";
}

json retrain(const std::string& policy, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"model", "retrain", policy};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_model_command(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.lines().at(0);
}

}  // namespace

TEST_CASE("retrain: new-label trigger, promotion when better, refusal when worse, decisions recorded, rollback") {
  TempDir dir;
  std::map<std::string, std::string> truth = store(dir / "repo.db");
  std::map<std::string, std::string> shuffled = shuffled_training_labels(truth);
  write_policy(dir / "policy.yaml", "{new_labels: 50}");

  // 1. Shuffled training labels; no production yet: the first candidate is promoted anyway.
  write_labels(dir / "shuffled.csv", all_of(shuffled));
  REQUIRE(run_model_command({"model", "label", dir / "repo.db", "--file", dir / "shuffled.csv"}).exit_code == 0);
  json first = retrain(dir / "policy.yaml");
  CHECK(first["decision"] == "promoted");
  CHECK(first["reason"] == "no production version yet");
  CHECK(first["candidate"]["reference"] == "registry://sn@1");
  double weak_auc = first["candidate"]["metrics"]["roc_auc"].get<double>();
  CHECK(weak_auc < 0.8);

  // Nothing new: the trigger does not fire.
  json idle = retrain(dir / "policy.yaml");
  CHECK(idle["decision"] == "skipped");
  CHECK(idle["trigger"]["new_labels"] == 0);

  // 2. True labels arrive in two parts: 30 changed labels do not reach the trigger, the rest do.
  std::vector<std::pair<std::string, std::string>> corrections;
  for (const auto& [id, label] : truth)
    if (shuffled[id] != label) corrections.emplace_back(id, label);
  REQUIRE(corrections.size() > 60);
  write_labels(dir / "part1.csv", {corrections.begin(), corrections.begin() + 30});
  write_labels(dir / "part2.csv", {corrections.begin() + 30, corrections.end()});
  REQUIRE(run_model_command({"model", "label", dir / "repo.db", "--file", dir / "part1.csv"}).exit_code == 0);
  auto check = run_model_command({"model", "retrain", dir / "policy.yaml", "--check"});
  REQUIRE(check.exit_code == 0);
  CHECK(check.lines()[0]["fire"] == false);
  CHECK(check.lines()[0]["new_labels"] == 30);
  CHECK(retrain(dir / "policy.yaml")["decision"] == "skipped");
  REQUIRE(run_model_command({"model", "label", dir / "repo.db", "--file", dir / "part2.csv"}).exit_code == 0);
  check = run_model_command({"model", "retrain", dir / "policy.yaml", "--check"});
  CHECK(check.lines()[0]["fire"] == true);
  CHECK(check.lines()[0]["new_labels"] == static_cast<int64_t>(corrections.size()));

  json second = retrain(dir / "policy.yaml");
  CHECK(second["decision"] == "promoted");
  CHECK(second["candidate"]["reference"] == "registry://sn@2");
  CHECK(second["production"]["reference"] == "registry://sn@1");
  double good_auc = second["candidate"]["metrics"]["roc_auc"].get<double>();
  CHECK(good_auc > 0.9);
  // Both measured on the same held-back set, recorded with the decision and in the registry.
  CHECK(second["candidate"]["metrics"]["test_set"] == second["production"]["metrics"]["test_set"]);
  CHECK(second["production"]["metrics"]["roc_auc"].get<double>() < good_auc - 0.02);
  {
    ModelRegistry r(dir / "models.sqlite");
    CHECK(r.find("sn", 1)->state == ModelState::retired);
    CHECK(r.find("sn", 2)->state == ModelState::production);
  }

  // 3. Shuffled labels again: the candidate is registered but refused; production stays.
  write_labels(dir / "shuffled-again.csv", all_of(shuffled));
  REQUIRE(run_model_command({"model", "label", dir / "repo.db", "--file", dir / "shuffled-again.csv"}).exit_code == 0);
  json third = retrain(dir / "policy.yaml");
  CHECK(third["decision"] == "kept");
  CHECK(third["candidate"]["reference"] == "registry://sn@3");
  CHECK(third["production_now"] == "registry://sn@2");
  CHECK(third["candidate"]["metrics"]["roc_auc"].get<double>() < third["production"]["metrics"]["roc_auc"].get<double>());
  CHECK(third["reason"].get<std::string>().find("does not beat production registry://sn@2") != std::string::npos);

  MESSAGE("held-back ROC AUC: v1 (shuffled training labels) " << weak_auc << ", v2 (true labels) " << good_auc
                                                              << ", v3 (shuffled again, refused) "
                                                              << third["candidate"]["metrics"]["roc_auc"].get<double>()
                                                              << "; " << second["test_rows"] << " held-back rows");
  auto log = run_model_command({"model", "retrain-log", "sn", "--registry", dir / "models.sqlite"});
  REQUIRE(log.exit_code == 0);
  REQUIRE(log.lines().size() == 3);  // skipped runs are not recorded
  CHECK(log.lines()[0]["decision"] == "promoted");
  CHECK(log.lines()[1]["decision"] == "promoted");
  CHECK(log.lines()[2]["decision"] == "kept");
  auto show = run_model_command({"model", "show", "sn", "--registry", dir / "models.sqlite"});
  CHECK(show.lines()[0]["version"] == 2);
  CHECK(show.lines()[0]["last_retrain"]["decision"] == "kept");

  // 4. Rollback: the retired version 1 can be forced back; version 2 is then retired, not lost.
  auto rollback = run_model_command({"model", "promote", "sn", "--version", "1", "--force", "--registry", dir / "models.sqlite"});
  REQUIRE_MESSAGE(rollback.exit_code == 0, rollback.err);
  CHECK(rollback.lines()[0]["previous_production"] == "registry://sn@2");
  ModelRegistry r(dir / "models.sqlite");
  CHECK(r.find("sn", 1)->state == ModelState::production);
  CHECK(r.find("sn", 2)->state == ModelState::retired);
  CHECK(r.find("sn", 3)->state == ModelState::candidate);
}

TEST_CASE("retrain: an interval trigger fires once the last training is old enough") {
  TempDir dir;
  std::map<std::string, std::string> truth = store(dir / "repo.db");
  write_labels(dir / "labels.csv", all_of(truth));
  REQUIRE(run_model_command({"model", "label", dir / "repo.db", "--file", dir / "labels.csv"}).exit_code == 0);
  write_policy(dir / "policy.yaml", "{every_hours: 0.0002}");  // 0.72 s
  CHECK(retrain(dir / "policy.yaml")["decision"] == "promoted");
  CHECK(check_retrain_trigger(read_retrain_policy(dir / "policy.yaml"), false).fire == false);
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  RetrainTrigger t = check_retrain_trigger(read_retrain_policy(dir / "policy.yaml"), false);
  CHECK(t.fire);
  CHECK(t.reason.find("every") != std::string::npos);
}

TEST_CASE("retrain policy errors name FILE:LINE:COL") {
  TempDir dir;
  std::ofstream(dir / "p.yaml") << "model: sn\nregistry: r.sqlite\nrepository: repo.db\n"
                                   "labels: {positive: SN, negative: VAR}\ntrigger: {new_labels: 5}\nmetrc: roc_auc\n";
  CHECK_THROWS_WITH_AS(read_retrain_policy(dir / "p.yaml"), doctest::Contains("p.yaml:6:1: unknown key 'metrc'"), Fault);
  std::ofstream(dir / "q.yaml") << "model: sn\nregistry: r.sqlite\nrepository: repo.db\n"
                                   "labels: {positive: SN, negative: VAR}\ntrigger: {}\n";
  CHECK_THROWS_WITH_AS(read_retrain_policy(dir / "q.yaml"), doctest::Contains("new_labels and/or every_hours"), Fault);
  std::ofstream(dir / "m.yaml") << "model: sn\nregistry: r.sqlite\nrepository: repo.db\n"
                                   "labels: {positive: SN, negative: VAR}\ntrigger: {new_labels: 5}\nmetric: accuracy\n";
  CHECK_THROWS_WITH_AS(read_retrain_policy(dir / "m.yaml"), doctest::Contains("m.yaml:6:9"), Fault);
}

TEST_CASE("through the ebs-flow binary: retrain keeps a candidate, a workflow shadow-scores it, model show reports it") {
  TempDir dir;
  std::map<std::string, std::string> truth = store(dir / "repo.db");
  write_labels(dir / "labels.csv", all_of(truth));
  const std::string ebs_flow = (ebs::test::binary_dir() / "ebs-flow").string();
  auto run = [&](const std::string& args) {
    ebs::test::CommandResult r = ebs::test::run_command(ebs_flow + " " + args, dir.path());
    INFO(args << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  };
  run("model label repo.db --file labels.csv --source tns");
  write_policy(dir / "policy.yaml", "{new_labels: 50}");
  CHECK(json::parse(run("model retrain policy.yaml"))["decision"] == "promoted");
  write_policy(dir / "unbeatable.yaml", "{new_labels: 50}", "1.0");  // a candidate can never beat production by 1
  json kept = json::parse(run("model retrain unbeatable.yaml --force"));
  CHECK(kept["decision"] == "kept");
  CHECK(kept["candidate"]["reference"] == "registry://sn@2");

  std::ofstream(dir / "shadow.yaml") << "name: shadow\n"
                                       "actors:\n"
                                       "  - id: sim\n"
                                       "    type: simulator\n"
                                       "    config: {count: 1500, seed: 4}\n"
                                       "  - id: score\n"
                                       "    type: xgboost-score\n"
                                       "    config:\n"
                                       "      registry: models.sqlite\n"
                                       "      models: [registry://sn@production, {model: registry://sn@candidate, shadow: true}]\n"
                                       "    inputs: [sim.alerts]\n"
                                       "  - id: likely\n"
                                       "    type: filter\n"
                                       "    config: {where: 'score.sn > 0.5'}\n"
                                       "    inputs: [score.out]\n"
                                       "  - id: out\n"
                                       "    type: jsonl\n"
                                       "    config: {path: likely.jsonl, with_raw: false}\n"
                                       "    inputs: [likely.out]\n";
  run("run shadow.yaml --quiet --run-dir run");
  json shown = json::parse(run("model show sn --version 2 --registry models.sqlite"));
  REQUIRE(shown["shadow"].size() == 1);
  CHECK(shown["shadow"][0]["count"] == 1500);
  CHECK(shown["shadow"][0]["shadow"] == "registry://sn@2");
  CHECK(shown["shadow"][0]["production"] == "registry://sn@1");
  // The filter read production's score: every kept alert has sn > 0.5, whatever sn.shadow says.
  std::istringstream lines(ebs::test::read_file(dir.path() / "run" / "likely.jsonl"));
  size_t kept_alerts = 0, above = 0, shadows = 0;
  for (std::string line; std::getline(lines, line); ++kept_alerts) {
    const json alert = json::parse(line);  // a named local: a range-for over a temporary's member dangles
    for (const json& a : alert["annotations"]) {
      if (a["name"] == "sn") above += a["value"].get<double>() > 0.5;
      shadows += a["name"] == "sn.shadow";
    }
  }
  CHECK(above == kept_alerts);
  CHECK(shadows == kept_alerts);
  CHECK(kept_alerts > 0);
  CHECK(kept_alerts < 1500);
}
