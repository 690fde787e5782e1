// TorchScript scoring (torch-score): the example networks of models/ give in ebs-flow what
// Python's torch gives on inputs Python computes itself (astropy, python3-avro), and a TorchScript
// shadow runs beside an XGBoost production model through the shadow tallies.
#include "actors/ml/torch_model.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/common/repository/writer.h"
#include "actors/ml/ml_actors.h"
#include "actors/ml/model_registry.h"
#include "actors/ml/model_source.h"
#include "actors/ml/synthetic_light_curves.h"
#include "test/support/collecting_emitter.h"
#include "test/support/ml_oracle.h"
#include "test/support/model_command_runner.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using namespace ebs::ml;
using ebs::ml::testing::TempDir;
using ebs::test::CollectingEmitter;
using ebs::test::make_context;
using ebs::test::OpenActor;

namespace {

std::string model_file(const std::string& name) { return (ebs::test::source_dir() / "models" / name).string(); }

std::vector<std::shared_ptr<const Alert>> real_ztf_alerts() {
  std::vector<std::shared_ptr<const Alert>> alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3");
  for (auto& a : ebs::test::ztf_alerts("ztf/kowalski-v3.3-v4.01")) alerts.push_back(a);
  return alerts;
}

const Annotation* score(const Alert& alert, const std::string& name) {
  for (const Annotation* a : alert.annotations().list())
    if (a->kind == Annotation::Kind::score && a->name == name) return a;
  return nullptr;
}

struct PythonScores {
  double cnn, gru;
  int points;
};

// Python's inputs (models/ztf_inputs.py: astropy for the stamps) through Python's torch.
std::map<int64_t, PythonScores> python_scores() {
  std::string output = ebs::test::run_python_oracle(
      "import sys, warnings\n"
      "sys.dont_write_bytecode = True\n"
      "warnings.filterwarnings('ignore')\n"
      "sys.path.insert(0, '" + (ebs::test::source_dir() / "models").string() + "')\n"
      "import numpy as np, torch, ztf_inputs\n"
      "torch.set_num_threads(1)\n"
      "alerts = ztf_inputs.read_alerts('" + ebs::test::data_dir().string() + "')\n"
      "cnn = torch.jit.load('" + model_file("stamp-cnn-cutouts-63.pt") + "')\n"
      "gru = torch.jit.load('" + model_file("lc-gru-lightcurve-30.pt") + "')\n"
      "stamps = torch.from_numpy(np.stack([ztf_inputs.cutout_tensor(a) for a in alerts]))\n"
      "curves = [ztf_inputs.lightcurve_tensor(a) for a in alerts]\n"
      "x = torch.from_numpy(np.stack([c[0] for c in curves]))\n"
      "mask = torch.from_numpy(np.stack([c[1] for c in curves]))\n"
      "with torch.no_grad():\n"
      "    s, g = cnn(stamps), gru(x, mask)\n"
      "for a, si, gi, c in zip(alerts, s.tolist(), g.tolist(), curves):\n"
      "    print('score', a['candid'], '%.9g' % si, '%.9g' % gi, int(c[1].sum()))\n");
  std::map<int64_t, PythonScores> scores;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("score ")) continue;
    std::istringstream in(line.substr(6));
    int64_t candid = 0;
    PythonScores s{};
    in >> candid >> s.cnn >> s.gru >> s.points;
    scores[candid] = s;
  }
  return scores;
}

}  // namespace

TEST_CASE("torch-score gives Python torch's outputs on the real ZTF alerts to 1e-5 (stamps and light curves)") {
  std::map<int64_t, PythonScores> expected = python_scores();
  std::vector<std::shared_ptr<const Alert>> alerts = real_ztf_alerts();
  REQUIRE(alerts.size() == 86);
  REQUIRE(expected.size() == 86);

  ActorRegistry registry;
  register_ml_actors(registry);
  const ActorType& type = *registry.find("torch-score");
  CHECK(type.blocking);  // inference never runs on a scheduler thread
  std::string yaml = "{models: ['" + model_file("stamp-cnn-cutouts-63.pt") + "', {model: '" +
                     model_file("lc-gru-lightcurve-30.pt") + "', name: lc}]}";
  std::vector<Problem> problems;
  type.check(make_context(type, yaml).config, problems);
  CHECK(problems.empty());
  OpenActor scorer(register_ml_actors, "torch-score", yaml);
  CollectingEmitter out;
  scorer.run({alerts.begin(), alerts.end()}, out);
  REQUIRE(out.forwarded_records == 86);

  double worst_cnn = 0, worst_gru = 0;
  size_t real = 0, with_points = 0;
  for (const RecordPtr& r : out.records()) {
    const auto& alert = static_cast<const Alert&>(*r);
    const Annotation* cnn = score(alert, "stamp-cnn-cutouts-63");
    const Annotation* gru = score(alert, "lc");
    REQUIRE(cnn);
    REQUIRE(gru);
    auto it = expected.find(alert.core().alert_id);
    REQUIRE(it != expected.end());
    worst_cnn = std::max(worst_cnn, std::abs(cnn->value - it->second.cnn));
    worst_gru = std::max(worst_gru, std::abs(gru->value - it->second.gru));
    CHECK(detection_sequence(alert.core()).size() >= static_cast<size_t>(it->second.points));
    real += cnn->value >= 0.5;
    with_points += it->second.points > 1;
    CHECK(cnn->provenance.actor_type == "torch-score");
    CHECK(cnn->provenance.version == "stamp-cnn-cutouts-63@unversioned");
    CHECK(cnn->provenance.config_hash.size() == 16);
    CHECK(nlohmann::json::parse(cnn->details)["inputs"] == "cutouts/63");
    CHECK(nlohmann::json::parse(gru->details)["inputs"] == "lightcurve/30");
  }
  INFO("worst differences: stamps " << worst_cnn << ", light curves " << worst_gru);
  CHECK(worst_cnn < 1e-5);
  CHECK(worst_gru < 1e-5);
  // The comparison means something: both classes scored, light curves of several points.
  CHECK(real > 10);
  CHECK(real < 76);
  CHECK(with_points > 10);
}

// Rubin's stamps are raw FITS (not gzipped), of every size from 30 to 71 pixels: cropped and
// padded about the centre to the CNN's 63. The position weights make a flipped or shifted stamp
// show even where the network would not.
TEST_CASE("Rubin cutouts: torch-score decodes the 100 real LSSTCam alerts' raw FITS stamps as astropy does") {
  const std::string folder = "lsst/rubin-lsstcam-v9-spark";
  std::string output = ebs::test::run_python_oracle(
      "import sys, glob, os, warnings\n"
      "sys.dont_write_bytecode = True\n"
      "warnings.filterwarnings('ignore')\n"
      "sys.path.insert(0, '" + (ebs::test::source_dir() / "models").string() + "')\n"
      "import numpy as np, torch, avro.datafile, avro.io, ztf_inputs\n"
      "torch.set_num_threads(1)\n"
      "alerts = []\n"
      "for path in sorted(glob.glob('" + (ebs::test::data_dir() / folder).string() + "/*.avro')):\n"
      "    with open(path, 'rb') as f:\n"
      "        alerts += list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))\n"
      "weights = ((np.arange(63 * 63) % 97) / 97.0 + 0.01).reshape(63, 63)\n"
      "stamps = np.stack([np.stack([ztf_inputs.stamp_tensor(a[s], 63) for s in ztf_inputs.STAMPS]) for a in alerts])\n"
      "cnn = torch.jit.load('" + model_file("stamp-cnn-cutouts-63.pt") + "')\n"
      "with torch.no_grad():\n"
      "    scores = cnn(torch.from_numpy(stamps)).tolist()\n"
      "for a, x, s in zip(alerts, stamps, scores):\n"
      "    sums = ['%.9g' % float((x[c].astype(np.float64) * weights).sum()) for c in range(3)]\n"
      "    print('stamp', a['diaSourceId'], '%.9g' % s, ' '.join(sums))\n");
  struct Expected {
    double score;
    double sums[3];
  };
  std::map<int64_t, Expected> expected;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("stamp ")) continue;
    std::istringstream in(line.substr(6));
    int64_t id = 0;
    Expected e{};
    in >> id >> e.score >> e.sums[0] >> e.sums[1] >> e.sums[2];
    expected[id] = e;
  }
  std::vector<std::shared_ptr<const Alert>> alerts = ebs::test::ztf_alerts(folder);
  REQUIRE(alerts.size() == 100);
  REQUIRE(expected.size() == 100);

  std::unique_ptr<InputEncoder> encoder = make_input_encoder("cutouts/63", "test");
  std::vector<float> row(encoder->layout().width);
  double worst_sum = 0;
  size_t not_gzip = 0;
  for (const auto& alert : alerts) {
    REQUIRE(alert->core().cutouts.size() == 3);
    not_gzip += !ebs::test::cutout_bytes(*alert, Cutout::Kind::science).starts_with("\x1f\x8b");
    encoder->encode(alert->core(), row.data());
    const Expected& e = expected.at(alert->core().alert_id);
    for (size_t c = 0; c < 3; ++c) {
      double sum = 0, magnitude = 0;
      for (size_t i = 0; i < 63 * 63; ++i) {
        const double weighted = static_cast<double>(row[c * 63 * 63 + i]) * ((i % 97) / 97.0 + 0.01);
        sum += weighted;
        magnitude += std::abs(weighted);
      }
      worst_sum = std::max(worst_sum, std::abs(sum - e.sums[c]) / std::max(1.0, magnitude));
    }
  }
  CHECK(not_gzip == 100);  // Rubin's own format, not ZTF's
  INFO("worst difference of the weighted stamp sums (relative to the sum of their sizes): " << worst_sum);
  CHECK(worst_sum < 1e-5);

  OpenActor scorer(register_ml_actors, "torch-score", "{models: ['" + model_file("stamp-cnn-cutouts-63.pt") + "']}");
  CollectingEmitter out;
  scorer.run({alerts.begin(), alerts.end()}, out);
  REQUIRE(out.forwarded_records == 100);
  double worst_score = 0;
  for (const RecordPtr& r : out.records()) {
    const auto& alert = static_cast<const Alert&>(*r);
    const Annotation* cnn = score(alert, "stamp-cnn-cutouts-63");
    REQUIRE(cnn);
    worst_score = std::max(worst_score, std::abs(cnn->value - expected.at(alert.core().alert_id).score));
  }
  INFO("worst score difference: " << worst_score);
  CHECK(worst_score < 1e-5);
}

TEST_CASE("model suggest ranks a cutout network by uncertainty on the stamps the repository's file store keeps") {
  TempDir dir;
  std::vector<std::shared_ptr<const Alert>> alerts = real_ztf_alerts();
  REQUIRE(alerts.size() == 86);
  {
    repository::WriterOptions options;
    options.cutouts_dir = dir / "cutouts";
    repository::Writer with_stamps(dir / "repo.db", options);
    repository::Writer without(dir / "bare.db");
    for (repository::Writer* w : {&with_stamps, &without}) {
      w->begin();
      for (const auto& a : alerts) w->add(*a);
      w->commit(alerts.size(), alerts.size());
    }
  }
  // What torch-score gives each alert.
  OpenActor scorer(register_ml_actors, "torch-score", "{models: ['" + model_file("stamp-cnn-cutouts-63.pt") + "']}");
  CollectingEmitter out;
  scorer.run({alerts.begin(), alerts.end()}, out);
  std::map<std::string, double> live;  // by alert id
  std::set<std::string> objects;
  for (const RecordPtr& r : out.records()) {
    const auto& alert = static_cast<const Alert&>(*r);
    live[std::to_string(alert.core().alert_id)] = score(alert, "stamp-cnn-cutouts-63")->value;
    objects.insert(alert.core().object_id);
  }

  auto suggested = ebs::ml::testing::run_model_command(
      {"model", "suggest", "--model", model_file("stamp-cnn-cutouts-63.pt"), "--repository", dir / "repo.db", "--n", "200"});
  INFO(suggested.err);
  REQUIRE(suggested.exit_code == 0);
  std::vector<nlohmann::json> lines = suggested.lines();
  CHECK(lines.size() == objects.size());  // every object once, on its latest alert
  for (size_t i = 0; i < lines.size(); ++i) {
    const double s = lines[i]["score"].get<double>();
    CHECK(std::abs(s - live.at(lines[i]["alert_id"].get<std::string>())) < 1e-5);
    CHECK(lines[i]["uncertainty"].get<double>() == doctest::Approx(1 - std::abs(2 * s - 1)).epsilon(1e-6));
    if (i) CHECK(lines[i]["uncertainty"].get<double>() <= lines[i - 1]["uncertainty"].get<double>());
  }
  // A repository stored without its cutouts: said so, naming the sink's key.
  auto bare = ebs::ml::testing::run_model_command(
      {"model", "suggest", "--model", model_file("stamp-cnn-cutouts-63.pt"), "--repository", dir / "bare.db"});
  CHECK(bare.exit_code != 0);
  CHECK(bare.err.find("the repository keeps no cutouts (a repository sink stores them with cutouts_dir)") !=
        std::string::npos);
}

TEST_CASE("cutouts: a missing or corrupt stamp dead-letters that alert only") {
  std::vector<std::shared_ptr<const Alert>> alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 3);
  REQUIRE(alerts.size() == 3);
  auto without = std::make_shared<AlertCore>(alerts[1]->core());
  without->cutouts.clear();
  auto corrupt = std::make_shared<AlertCore>(alerts[2]->core());
  corrupt->cutouts[0].bytes = std::string_view("\x1f\x8b not gzip");
  std::vector<RecordPtr> records{alerts[0], std::make_shared<const Alert>(without),
                                 std::make_shared<const Alert>(corrupt)};
  OpenActor scorer(register_ml_actors, "torch-score", "{models: ['" + model_file("stamp-cnn-cutouts-63.pt") + "']}");
  CollectingEmitter out;
  scorer.run(std::move(records), out);
  CHECK(out.forwarded_records == 1);
  CHECK(out.failed_records == 2);
}

TEST_CASE("a TorchScript shadow beside a production XGBoost model, through the registry and the shadow tallies") {
  TempDir dir;
  const std::string path = dir / "models.sqlite";
  {
    ModelRegistry registry(path);
    std::ifstream xgb(model_file("example-transient-lc-basic-1.ubj"), std::ios::binary);
    std::stringstream xgb_bytes;
    xgb_bytes << xgb.rdbuf();
    registry.add({"transient", xgb_bytes.str(), "lc-basic/1", {}, "models/README.md", {}});
    registry.promote("transient", 1, "roc_auc", true);
    std::ifstream pt(model_file("lc-gru-lightcurve-30.pt"), std::ios::binary);
    std::stringstream pt_bytes;
    pt_bytes << pt.rdbuf();
    ModelEntry gru = registry.add({"transient", pt_bytes.str(), "", {}, "models/train_models.py", {}});
    CHECK(gru.format == "pt");
    CHECK(gru.feature_set == "lightcurve/30");  // the module's ebs_inputs
    CHECK(gru.state == ModelState::candidate);
    // Not a network's input: refused when registered.
    CHECK_THROWS_AS(registry.add({"transient", pt_bytes.str(), "cutouts/63", {}, "", {}}), Fault);
  }
  SyntheticOptions o;
  o.objects = 120;
  o.history = 12;
  std::vector<LabelledAlert> alerts = make_synthetic_alerts(o);
  std::vector<RecordPtr> records;
  for (const LabelledAlert& a : alerts) records.push_back(std::make_shared<const Alert>(a.alert));

  std::string yaml = "{registry: '" + path +
                     "', models: [registry://transient@production, {model: registry://transient@candidate, shadow: true}]}";
  OpenActor scorer(register_ml_actors, "torch-score", yaml, dir.path().string());
  CollectingEmitter out;
  scorer.run(std::move(records), out);
  scorer.logic().on_end_of_stream(out);
  REQUIRE(out.forwarded_records == alerts.size());
  double agree = 0;
  for (size_t i = 0; i < out.records().size(); ++i) {
    const auto& alert = static_cast<const Alert&>(*out.records()[i]);
    const Annotation* production = score(alert, "transient");
    const Annotation* shadow = score(alert, "transient.shadow");
    REQUIRE(production);
    REQUIRE(shadow);
    CHECK(production->provenance.version == "transient@1");
    CHECK(shadow->provenance.version == "transient@2");
    nlohmann::json details = nlohmann::json::parse(shadow->details);
    CHECK(details["shadow"] == true);
    CHECK(details["against"] == "registry://transient@1");
    CHECK(details["inputs"] == "lightcurve/30");
    agree += (production->value >= 0.5) == (shadow->value >= 0.5);
  }
  std::vector<ShadowTally> tallies = ModelRegistry(path).shadow_tallies("transient");
  REQUIRE(tallies.size() == 1);
  CHECK(tallies[0].count == alerts.size());
  CHECK(tallies[0].shadow_reference == "registry://transient@2");
  CHECK(tallies[0].production_reference == "registry://transient@1");
  CHECK(tallies[0].agree == static_cast<uint64_t>(agree));
  // Both tell transients from variables: they mostly agree.
  CHECK(agree / alerts.size() > 0.7);

  // xgboost-score runs XGBoost models only, and says where the network should go.
  ActorRegistry actors;
  register_ml_actors(actors);
  const ActorType& xgboost = *actors.find("xgboost-score");
  std::vector<Problem> problems;
  xgboost.check(make_context(xgboost, "{registry: '" + path + "', models: [registry://transient@2]}").config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "registry://transient@2 is a pt model: xgboost-score runs XGBoost models (use torch-score)");
}
