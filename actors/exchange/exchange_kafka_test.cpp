// The exchange family through the engine with every built-in actor type and the embedded broker:
// our classifications published in the ELAsTiCC shape and read back by python3-avro with the
// ELAsTiCC schema file; other brokers' classifications (written by python3-avro) joined to real
// ZTF alerts and combined by consensus, checked against a hand computation.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/elasticc_messages.h"
#include "test/support/exchange_fixture.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using nlohmann::json;

TEST_CASE("our scores as ELAsTiCC brokerClassification on Kafka: python3-avro reads them with the ELAsTiCC schema") {
  test::ExchangeFixture f;
  f.broker.create_topic("ebs-classifications", 2);
  const std::string model = (test::source_dir() / "models/example-transient-lc-basic-1.ubj").string();
  RunResult r = f.run(R"(
name: publish-classifications
actors:
  - id: ztf
    type: avro-files
    config: {path: ")" + (test::data_dir() / "ztf/fink-20200101-v3.3").string() + R"("}
  - id: score
    type: xgboost-score
    config: {models: [{model: ")" + model + R"(", name: transient}]}
    inputs: [ztf.alerts]
  - id: classes
    type: classifications
    config: {broker_name: ebs-test, broker_version: "9.9", scores: {transient: SN-like}}
    inputs: [score.out]
  - id: publish
    type: kafka-sink
    config: {topic: ebs-classifications, format: elasticc, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
    inputs: [classes.classifications]
)" + f.sink("scored", "scored", "classes.alerts"));
  REQUIRE(r.accounting_ok);
  CHECK(r.find("ztf")->forwarded == 50);
  CHECK(r.find("publish")->forwarded == 50);
  CHECK(r.find("publish")->failed == 0);

  // What the scorer said about each alert (candid -> score), from the alerts themselves.
  std::map<std::string, double> score_of;
  std::map<std::string, double> mjd_of;
  for (const json& alert : f.json_topic("scored")) {
    for (const json& a : alert["annotations"])
      if (a["name"] == "transient") score_of[alert["alert_id"].get<std::string>()] = a["value"].get<double>();
    mjd_of[alert["alert_id"].get<std::string>()] = alert["mjd_tai"].get<double>();
  }
  REQUIRE(score_of.size() == 50);

  std::vector<std::string> messages = test::read_topic(f.broker.bootstrap_servers(), "ebs-classifications", 2);
  REQUIRE(messages.size() == 50);
  size_t n = 0;
  for (const json& m : test::read_elasticc_messages(messages, f.dir / "messages")) {
    ++n;
    const std::string candid = std::to_string(m["alertId"].get<int64_t>());
    REQUIRE(score_of.count(candid));
    test::check_our_elasticc_message(m, score_of.at(candid));
    CHECK(m["classifierName"].get<std::string>().starts_with("score/transient "));
    CHECK(json::parse(m["classifierParams"].get<std::string>())["actor_type"] == "xgboost-score");
    // The alert's time: its detection (MJD TAI) in ms since 1970 UTC (37 s of TAI - UTC).
    const double mjd_utc = mjd_of.at(candid) - 37.0 / 86400;
    CHECK(std::abs(m["elasticcPublishTimestamp"].get<int64_t>() - (mjd_utc - 40587) * 86400000.0) < 2);
    CHECK(m["brokerIngestTimestamp"].get<int64_t>() > 1700000000000);
  }
  CHECK(n == 50);
}

TEST_CASE("two brokers' classifications joined to real ZTF alerts; the consensus equals a hand computation") {
  test::ExchangeFixture f;
  f.broker.create_topic("brokers", 2);
  auto alerts = test::ztf_alerts();
  REQUIRE(alerts.size() == 50);

  // Broker A (ALeRCE-like) and broker B (Fink-like) classify the first 10 alerts; B also sends
  // one for an alert id that never comes.
  std::vector<int64_t> ids;
  for (size_t i = 0; i < 10; ++i) ids.push_back(alerts[i]->core().alert_id);
  const test::OtherBrokers others = test::other_brokers_classifications(ids, f.dir);
  const auto& given = others.given;
  f.publish("brokers", others.files);

  RunResult r = f.run(R"(
name: join-and-consensus
actors:
  - id: ztf
    type: avro-files
    config: {path: ")" + (test::data_dir() / "ztf/fink-20200101-v3.3").string() + R"("}
  - id: others
    type: classification-kafka
    config: {topics: [brokers], assign: true, stop_at_end: true, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: join
    type: classification-join
    config: {wait_for: [ALeRCE, Fink], hold_seconds: 120}
    inputs: {alerts: ztf.alerts, classifications: others.classifications}
  - id: vote
    type: consensus
    config: {weights: {ALeRCE: 1, Fink/snn 2.0: 3}, expect: [ALeRCE, Fink, AMPEL], min_inputs: 2}
    inputs: [join.out]
)" + f.sink("out", "joined", "vote.out") + f.sink("lost", "unmatched", "join.unmatched"));
  REQUIRE(r.accounting_ok);
  CHECK(r.find("others")->forwarded == 21);
  CHECK(r.find("join")->filtered == 20);  // merged into their alerts
  CHECK(r.find("out")->forwarded == 50);
  CHECK(r.find("lost")->forwarded == 1);
  auto lost = f.json_topic("unmatched");
  REQUIRE(lost.size() == 1);
  CHECK(lost[0]["alertId"] == "42");

  size_t with_consensus = 0;
  for (const json& alert : f.json_topic("joined")) {
    const int64_t id = std::stoll(alert["alert_id"].get<std::string>());
    const json* consensus = nullptr;
    std::vector<std::string> foreign;
    for (const json& a : alert["annotations"]) {
      if (a["actor_type"] == "consensus") consensus = &a;
      if (a["actor_type"] == "broker-classification") {
        foreign.push_back(a["actor"].get<std::string>());
        CHECK(a["version"] == "v7");
        CHECK(a["details"]["joined_by"] == "join");
      }
    }
    if (!given.count(id)) {
      CHECK(foreign.empty());
      CHECK(consensus == nullptr);  // min_inputs 2
      continue;
    }
    ++with_consensus;
    std::sort(foreign.begin(), foreign.end());
    CHECK(foreign == std::vector<std::string>{"ALeRCE", "Fink"});
    REQUIRE(consensus);
    // By hand: weights 1 (ALeRCE) and 3 (Fink/snn 2.0), total 4.
    const auto [a, b] = given.at(id);
    const std::map<int, double> expected{{2222, (1 * a + 3 * b) / 4}, {2224, (1 - a) / 4}, {2332, 3 * (1 - b) / 4}};
    const json& details = (*consensus)["details"];
    REQUIRE(details["classifications"].size() == 3);
    for (const json& c : details["classifications"])
      CHECK(c["probability"].get<double>() == doctest::Approx(expected.at(c["classId"].get<int>())).epsilon(1e-6));
    REQUIRE(details["inputs"].size() == 2);
    std::map<std::string, double> weights;
    for (const json& in : details["inputs"]) weights[in["name"]] = in["weight"];
    CHECK(weights == std::map<std::string, double>{{"ALeRCE/lc_classifier 1.1", 1}, {"Fink/snn 2.0", 3}});
    CHECK(details["missing"] == json::array({"AMPEL"}));
    const int top = (1 * a + 3 * b) / 4 > std::max((1 - a) / 4, 3 * (1 - b) / 4) ? 2222 : (1 - a) > 3 * (1 - b) ? 2224 : 2332;
    CHECK((*consensus)["name"] == (top == 2222 ? "Ia" : top == 2224 ? "II" : "AGN"));
  }
  CHECK(with_consensus == 10);
}
