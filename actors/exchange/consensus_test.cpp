#include "actors/exchange/consensus.h"

#include <doctest/doctest.h>

#include "actors/exchange/class_map.h"

using namespace ebs;
using namespace ebs::exchange;

TEST_CASE("consensus: a weighted mean; absent classes count 0; weight 0 ignores an input") {
  ClassifierOutput a{"ALeRCE", "1", "lc", "", {{2222, 0.6f}, {2224, 0.4f}}, {}};
  ClassifierOutput b{"Fink", "2", "snn", "", {{2222, 0.2f}, {2332, 0.8f}}, {}};
  ClassifierOutput c{"AMPEL", "3", "x", "", {{2232, 1.0f}}, {}};
  ConsensusRule rule;
  rule.weights = {{"ALeRCE", 1}, {"Fink/snn", 3}, {"AMPEL", 0}};
  ConsensusResult r = combine({a, b, c}, rule);
  REQUIRE(r.classes.size() == 3);
  CHECK(r.classes[0].class_id == 2222);
  CHECK(r.classes[0].probability == doctest::Approx((0.6 + 3 * 0.2) / 4));
  CHECK(r.classes[1].class_id == 2224);
  CHECK(r.classes[1].probability == doctest::Approx(0.4 / 4));
  CHECK(r.classes[2].class_id == 2332);
  CHECK(r.classes[2].probability == doctest::Approx(3 * 0.8 / 4));
  REQUIRE(r.used.size() == 2);
  CHECK(r.used[1].name == "Fink/snn");
  CHECK(r.used[1].weight == 3);
  REQUIRE(r.ignored.size() == 1);
  CHECK(r.ignored[0].name == "AMPEL/x");
  CHECK(combine({}, rule).classes.empty());
}

TEST_CASE("our annotations as ELAsTiCC distributions: a binary score and a Sherlock class") {
  auto core = std::make_shared<AlertCore>();
  core->alert_id = 7;
  auto alert = std::make_shared<const Alert>(core);
  Annotation score;
  score.kind = Annotation::Kind::score;
  score.provenance = {"score", "xgboost-score", "sn@1", "abc"};
  score.name = "sn";
  score.value = 0.75;
  Annotation sherlock;
  sherlock.kind = Annotation::Kind::classification;
  sherlock.provenance = {"classify", "classify", "sherlock-ebs/1.0", "def"};
  sherlock.name = "AGN";
  Annotation unmapped = score;
  unmapped.name = "other";
  alert = alert->annotated(score)->annotated(sherlock)->annotated(unmapped);
  ClassMap map;
  map.sherlock = default_sherlock_classes();
  map.scores = {{"sn", 2222}};
  auto d = distributions(*alert, map);
  REQUIRE(d.size() == 2);
  CHECK(d[0].classifier == "score/sn sn@1");
  REQUIRE(d[0].classes.size() == 2);
  CHECK(d[0].classes[0].class_id == 2222);
  CHECK(d[0].classes[0].probability == 0.75f);
  CHECK(d[0].classes[1].class_id == 200);
  CHECK(d[0].classes[1].probability == 0.25f);
  CHECK(d[1].classifier == "classify sherlock-ebs/1.0");
  REQUIRE(d[1].classes.size() == 1);
  CHECK(d[1].classes[0].class_id == 2332);
  CHECK(distributions(*alert, map, {"classify"}).size() == 1);

  Classification foreign;
  foreign.alert_id = 7;
  foreign.alert_key = "7";
  foreign.broker_name = "Fink";
  foreign.broker_version = "3";
  foreign.classifier_name = "snn";
  foreign.classes = {{2222, 0.1f}, {2224, 0.9f}};
  auto joined = alert->annotated(foreign_annotation(foreign, "join"));
  auto all = distributions(*joined, map, {"classify"});
  REQUIRE(all.size() == 2);  // foreign ones always count
  CHECK(all[1].input_name() == "Fink/snn");
  CHECK(all[1].classes[1].probability == 0.9f);
  CHECK(joined->annotations().list().back()->name == "II");
}
