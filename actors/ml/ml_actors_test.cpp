#include "actors/ml/ml_actors.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actors/ml/model_registry.h"
#include "actors/ml/python_oracle.h"
#include "actors/ml/synthetic_light_curves.h"
#include "test/collecting_emitter.h"

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
  CHECK(problems[0].message == "a model is a path, registry://name[@version], or {model: ..., name: ...}");

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
