#include "actors/ml/ml_actors.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test/support/model_command_runner.h"
#include "actors/ml/model_registry.h"
#include "actors/ml/xgboost_model.h"
#include "test/support/ml_oracle.h"
#include "actors/ml/synthetic_light_curves.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using namespace ebs::ml;
using ebs::ml::testing::TempDir;
using ebs::test::CollectingEmitter;
using ebs::test::make_context;

namespace {

ActorRegistry ml_registry() {
  ActorRegistry r;
  register_ml_actors(r);
  return r;
}

BatchView batch_of(const std::vector<LabelledAlert>& alerts) {
  std::vector<RecordPtr> records;
  for (const LabelledAlert& a : alerts) records.push_back(std::make_shared<const Alert>(a.alert));
  return BatchView::make(PortType::alert, std::move(records), {});
}

// Writes label + features of `set` for every alert, as Python reads them.
void write_feature_csv(const std::string& path, const FeatureSet& set, const std::vector<LabelledAlert>& alerts) {
  std::ofstream out(path);
  out.precision(9);
  out << "label";
  for (const std::string& n : set.names) out << "," << n;
  out << "\n";
  FeatureExtractor x(set);
  std::vector<float> v(x.size());
  for (const LabelledAlert& a : alerts) {
    x.extract(*a.alert, v.data());
    out << a.label;
    for (float f : v) {
      out << ",";
      if (std::isnan(f)) out << "nan";
      else out << f;
    }
    out << "\n";
  }
}

std::vector<Problem> check(const ActorType& type, const std::string& yaml) {
  std::vector<Problem> problems;
  type.check(make_context(type, yaml).config, problems);
  return problems;
}

const Annotation* score(const Alert& alert, const std::string& name) {
  for (const Annotation* a : alert.annotations().list())
    if (a->kind == Annotation::Kind::score && a->name == name) return a;
  return nullptr;
}

}  // namespace

TEST_CASE("xgboost-score gives Python xgboost's scores (JSON and UBJSON models) to 1e-6, NaN features as missing") {
  TempDir dir;
  SyntheticOptions o;
  o.objects = 300;
  o.history = 8;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  const FeatureSet& set = *find_feature_set("lc-basic/1");
  write_feature_csv(dir / "features.csv", set, alerts);
  testing::python_train(dir / "features.csv", dir / "sn", 40, 5);
  std::vector<double> expected = testing::read_numbers(dir / "sn.pred");
  REQUIRE(expected.size() == alerts.size());

  ActorRegistry registry = ml_registry();
  const ActorType& type = *registry.find("xgboost-score");
  std::string yaml = "{models: [{model: '" + dir / "sn.json" + "', name: sn_json}, '" + dir / "sn.ubj" + "']}";
  CHECK(check(type, yaml).empty());
  ActorContext context = make_context(type, yaml);
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  BatchView input = batch_of(alerts);
  logic->on_batch(0, input, out);
  auto records = out.records();
  REQUIRE(records.size() == alerts.size());
  CHECK(out.forwarded_records == alerts.size());
  size_t with_missing = 0;
  FeatureExtractor x(set);
  std::vector<float> v(x.size());
  double worst = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& alert = static_cast<const Alert&>(*records[i]);
    CHECK(alert.annotations().size() == 2);
    const Annotation* a = score(alert, "sn_json");
    const Annotation* b = score(alert, "sn");  // default name: the file's stem
    REQUIRE(a);
    REQUIRE(b);
    worst = std::max({worst, std::abs(a->value - expected[i]), std::abs(b->value - expected[i])});
    x.extract(alert.core(), v.data());
    with_missing += std::any_of(v.begin(), v.end(), [](float f) { return std::isnan(f); });
    if (i == 0) {
      CHECK(a->provenance.actor == "under_test");
      CHECK(a->provenance.actor_type == "xgboost-score");
      CHECK(a->provenance.version == "sn@7");  // the file's `version` attribute
      CHECK(a->provenance.config_hash.size() == 16);
      CHECK(b->provenance.config_hash != a->provenance.config_hash);  // JSON and UBJSON bytes differ
      CHECK(nlohmann::json::parse(a->details)["features"] == "lc-basic/1");
    }
  }
  INFO("worst difference " << worst);
  CHECK(worst < 1e-6);
  CHECK(with_missing == alerts.size());  // no i band: every vector has missing values
  CHECK(&static_cast<const Alert&>(*records[0]).core() == alerts[0].alert.get());  // the core is shared
}

TEST_CASE("a model trained on other features is rejected at validate, naming the column") {
  TempDir dir;
  SyntheticOptions o;
  o.objects = 60;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  write_feature_csv(dir / "bazin.csv", *find_feature_set("lc-bazin/1"), alerts);
  testing::python_train(dir / "bazin.csv", dir / "bazin", 3, 2);
  {
    std::ofstream bad(dir / "corrupt.json");
    bad << "{\"learner\": 12";
  }
  ActorRegistry registry = ml_registry();
  const ActorType& type = *registry.find("xgboost-score");
  auto problems = check(type, "{models: ['" + dir / "bazin.json" + "']}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].place == "test.yaml:1:11");
  CHECK(problems[0].message == dir / "bazin.json" + " was trained on 29 features, lc-basic/1 gives 23");
  CHECK(check(type, "{features: lc-bazin/1, models: ['" + dir / "bazin.json" + "']}").empty());

  problems = check(type, "{models: ['" + dir / "absent.json" + "', '" + dir / "corrupt.json" + "']}");
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].message == dir / "absent.json" + ": cannot open the model file");
  CHECK(problems[1].message.rfind(dir / "corrupt.json" + ": corrupt model", 0) == 0);
  problems = check(type, "{features: lc-fancy/3, models: [x.json]}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "unknown feature set 'lc-fancy/3' (known: lc-basic/1, lc-bazin/1)");
  problems = check(type, "{models: [{file: x.json}]}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message ==
        "a model is a path, registry://name[@version], or {model: ..., name: ..., shadow: true}");

  // open() refuses the same model: a run never starts with it.
  ActorContext context = make_context(type, "{models: ['" + dir / "bazin.json" + "']}");
  auto logic = type.create(context);
  CHECK_THROWS_WITH_AS(logic->open(context), doctest::Contains("was trained on 29 features"), Fault);
}

TEST_CASE("unscorable alerts are dead-lettered, too-short light curves filtered, the rest scored") {
  TempDir dir;
  SyntheticOptions o;
  o.objects = 50;
  o.history = 3;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  write_feature_csv(dir / "f.csv", *find_feature_set("lc-basic/1"), alerts);
  testing::python_train(dir / "f.csv", dir / "m", 5, 3);

  auto broken = std::make_shared<AlertCore>(*alerts[3].alert);
  broken->mag = NAN;
  broken->flux = NAN;
  alerts[3].alert = broken;
  auto timeless = std::make_shared<AlertCore>(*alerts[7].alert);
  timeless->mjd_tai = NAN;
  alerts[7].alert = timeless;
  auto lonely = std::make_shared<AlertCore>(*alerts[9].alert);
  lonely->history.clear();
  count_history_detections(*lonely);
  alerts[9].alert = lonely;

  ActorRegistry registry = ml_registry();
  const ActorType& type = *registry.find("xgboost-score");
  std::string yaml = "{min_detections: 2, models: ['" + dir / "m.ubj" + "']}";
  ActorContext context = make_context(type, yaml);
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, batch_of(alerts), out);
  size_t short_curves = 0;  // fewer than two detections, the current one included
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (i == 3 || i == 7) continue;
    size_t detections = 1;
    for (const Photometry& p : alerts[i].alert->history) detections += p.kind == Photometry::Kind::detection;
    CHECK(alerts[i].alert->history_detections + 1 == detections);  // counted by make_synthetic_alerts
    short_curves += detections < 2;
  }
  CHECK(short_curves >= 1);  // the lonely one at least
  CHECK(out.failed_records == 2);
  CHECK(out.filtered_records == short_curves);
  CHECK(out.forwarded_records == alerts.size() - 2 - short_curves);
  CHECK(out.failed_records + out.filtered_records + out.forwarded_records == alerts.size());
  REQUIRE(out.faults.size() == 2);
  CHECK(out.faults[0].place() == "sim alert " + std::to_string(broken->alert_id) + " (" + broken->object_id + ")");
  CHECK(out.faults[0].message() ==
        "cannot compute features: the detection has neither a finite magnitude nor a finite flux");
  CHECK(out.faults[1].message() == "cannot compute features: no finite detection time");
  for (const RecordPtr& r : out.records()) CHECK(score(static_cast<const Alert&>(*r), "m"));
}

TEST_CASE("xgboost-score reads the production model from the registry") {
  TempDir dir;
  SyntheticOptions o;
  o.objects = 80;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  write_feature_csv(dir / "f.csv", *find_feature_set("lc-basic/1"), alerts);
  testing::python_train(dir / "f.csv", dir / "m", 10, 3);
  std::ifstream in(dir / "m.ubj", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    ModelRegistry r(dir / "models.sqlite");
    r.add({"sn-ia", bytes, "lc-basic/1", find_feature_set("lc-basic/1")->names, "f.csv", {}});
    r.promote("sn-ia", 1, "roc_auc", false);
  }
  ActorRegistry registry = ml_registry();
  const ActorType& type = *registry.find("xgboost-score");
  std::string yaml = "{registry: '" + dir / "models.sqlite" + "', models: ['registry://sn-ia']}";
  CHECK(check(type, yaml).empty());
  ActorContext context = make_context(type, yaml);
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, batch_of(alerts), out);
  std::vector<double> expected = testing::read_numbers(dir / "m.pred");
  auto records = out.records();
  REQUIRE(records.size() == expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const Annotation* a = score(static_cast<const Alert&>(*records[i]), "sn-ia");
    REQUIRE(a);
    CHECK(a->value == doctest::Approx(expected[i]).epsilon(1e-6));
    CHECK(a->provenance.version == "sn-ia@1");
  }
  auto problems = check(type, "{registry: '" + dir / "models.sqlite" + "', models: ['registry://other']}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("no production version") != std::string::npos);
}

TEST_CASE("xgboost-score shadow models: scored beside production, annotated as shadows, tallied into the registry") {
  TempDir dir;
  SyntheticOptions o;
  o.objects = 200;
  o.history = 6;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  const FeatureSet& set = *find_feature_set("lc-basic/1");
  FeatureExtractor x(set);
  std::vector<float> features(alerts.size() * x.size()), labels;
  for (size_t i = 0; i < alerts.size(); ++i) {
    x.extract(*alerts[i].alert, features.data() + i * x.size());
    labels.push_back(static_cast<float>(alerts[i].label));
  }
  {
    ModelRegistry r(dir / "models.sqlite");
    TrainParameters strong, weak;
    strong.rounds = 20;
    weak.rounds = 2;
    weak.max_depth = 1;
    r.add({"sn", XgboostModel::train(features, labels, set.names, strong).save("ubj"), set.name, set.names, "", {}});
    r.add({"sn", XgboostModel::train(features, labels, set.names, weak).save("ubj"), set.name, set.names, "", {}});
    r.promote("sn", 1, "roc_auc", false);
  }
  ActorRegistry registry = ml_registry();
  const ActorType& type = *registry.find("xgboost-score");
  std::string yaml = "{registry: '" + dir / "models.sqlite" +
                     "', shadow_report: shadow.jsonl, models: [registry://sn@production, "
                     "{model: registry://sn@candidate, shadow: true}]}";
  REQUIRE(check(type, yaml).empty());
  ActorContext context = make_context(type, yaml, dir.path().string());
  auto logic = type.create(context);
  logic->open(context);
  CHECK(logic->tick_interval() == std::chrono::seconds(60));
  CollectingEmitter out;
  logic->on_batch(0, batch_of(alerts), out);
  logic->on_end_of_stream(out);

  auto records = out.records();
  REQUIRE(records.size() == alerts.size());
  size_t agree = 0;
  for (const RecordPtr& record : records) {
    const auto& alert = static_cast<const Alert&>(*record);
    const Annotation* production = score(alert, "sn");
    const Annotation* shadow = score(alert, "sn.shadow");
    REQUIRE(production);
    REQUIRE(shadow);
    CHECK(production->provenance.version == "sn@1");
    CHECK(shadow->provenance.version == "sn@2");
    auto details = nlohmann::json::parse(shadow->details);
    CHECK(details["shadow"] == true);
    CHECK(details["state"] == "candidate");
    CHECK(details["against"] == "registry://sn@1");
    CHECK(nlohmann::json::parse(production->details).count("shadow") == 0);
    agree += (production->value >= 0.5) == (shadow->value >= 0.5);
  }
  ModelRegistry r(dir / "models.sqlite");
  std::vector<ShadowTally> tallies = r.shadow_tallies("sn");
  REQUIRE(tallies.size() == 1);
  CHECK(tallies[0].count == alerts.size());
  CHECK(tallies[0].agree == agree);
  CHECK(tallies[0].shadow_reference == "registry://sn@2");
  CHECK(tallies[0].production_reference == "registry://sn@1");
  std::ifstream report(dir / "shadow.jsonl");
  std::string line;
  REQUIRE(std::getline(report, line));
  auto summary = nlohmann::json::parse(line);
  CHECK(summary["count"] == alerts.size());
  CHECK(summary["actor"] == "under_test");
  CHECK(summary["agreement"].get<double>() == doctest::Approx(static_cast<double>(agree) / alerts.size()));

  // The commands report the live agreement: `model shadow`, `model show` and `model compare`.
  using ebs::ml::testing::run_model_command;
  auto shadow_lines = run_model_command({"model", "shadow", "sn", "--registry", dir / "models.sqlite"});
  REQUIRE_MESSAGE(shadow_lines.exit_code == 0, shadow_lines.err);
  CHECK(shadow_lines.lines().at(0)["count"] == alerts.size());
  auto show = run_model_command({"model", "show", "sn", "--version", "2", "--registry", dir / "models.sqlite"});
  REQUIRE(show.exit_code == 0);
  CHECK(show.lines().at(0)["shadow"].at(0)["agreement"] == shadow_lines.lines().at(0)["agreement"]);
  REQUIRE(run_model_command({"model", "synthetic", "--out", dir / "test.csv", "--objects", "60"}).exit_code == 0);
  auto compare = run_model_command({"model", "compare", "--a", "registry://sn@1", "--b", "registry://sn@2", "--data",
                                    dir / "test.csv", "--registry", dir / "models.sqlite"});
  REQUIRE_MESSAGE(compare.exit_code == 0, compare.err);
  CHECK(compare.lines().at(0)["live"].at(0)["count"] == alerts.size());

  // Once the candidate is promoted there is none left: the shadow is left out, production scores.
  r.promote("sn", 2, "roc_auc", true);
  REQUIRE(check(type, yaml).empty());
  ActorContext after = make_context(type, yaml, dir.path().string());
  auto alone = type.create(after);
  alone->open(after);
  CHECK(alone->tick_interval() == std::chrono::microseconds(0));  // nothing to tally
  CollectingEmitter alone_out;
  alone->on_batch(0, batch_of(alerts), alone_out);
  REQUIRE(alone_out.records().size() == alerts.size());
  const auto& first = static_cast<const Alert&>(*alone_out.records()[0]);
  CHECK(score(first, "sn") != nullptr);
  CHECK(score(first, "sn.shadow") == nullptr);
  CHECK(score(first, "sn")->provenance.version == "sn@2");

  // A shadow needs a production model beside it; `against` must name one.
  auto problems = check(type, "{registry: '" + dir / "models.sqlite" +
                                  "', models: [{model: registry://sn@1, shadow: true}]}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "a shadow model needs a production (non-shadow) model beside it");
  problems = check(type, "{registry: '" + dir / "models.sqlite" +
                             "', models: [registry://sn, {model: registry://sn@2, shadow: true, against: agn}]}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("`against: agn` names no production") != std::string::npos);
}

TEST_CASE("features annotates alerts with the named vector as JSON") {
  SyntheticOptions o;
  o.objects = 5;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  ActorRegistry registry = ml_registry();
  const ActorType& type = *registry.find("features");
  ActorContext context = make_context(type, "{features: lc-bazin/1}");
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, batch_of(alerts), out);
  auto records = out.records();
  REQUIRE(records.size() == 5);
  const auto& alert = static_cast<const Alert&>(*records[0]);
  REQUIRE(alert.annotations().size() == 1);
  const Annotation* a = alert.annotations().list()[0];
  CHECK(a->kind == Annotation::Kind::tag);
  CHECK(a->name == "lc-bazin/1");
  auto vector = nlohmann::json::parse(a->details);
  CHECK(vector.size() == 29);
  CHECK(vector["n_det_i"] == 0);
  CHECK(vector["mag_peak_i"].is_null());
  CHECK(vector["n_det"].get<double>() >= 1);
  std::vector<Problem> problems;
  type.check(make_context(type, "{features: nope}").config, problems);
  CHECK(problems.size() == 1);
}
