// Issue 18, the exchange family through the binary: `ebs-flow broker`, `ebs-flow replay` and
// `ebs-flow run` on the shape of docs/exchange.md "A whole exchange workflow". Real ZTF alerts from
// a Kafka topic are scored, published as ELAsTiCC brokerClassification messages (read back by
// python3-avro with the ELAsTiCC schema file), joined to two other brokers' classifications (written
// by python3-avro) and combined by consensus, checked against a hand computation.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/binary_broker.h"
#include "test/support/elasticc_messages.h"
#include "test/support/kafka_test_support.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string ebs_flow() { return (test::binary_dir() / "ebs-flow").string(); }

std::vector<json> json_lines_of(const fs::path& file) {
  std::vector<json> out;
  std::istringstream lines(test::read_file(file));
  for (std::string line; std::getline(lines, line);) out.push_back(json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("a whole exchange workflow through the binary: ELAsTiCC messages read by python3-avro, consensus by hand") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-exchange-run-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  test::BinaryBroker broker(ebs_flow(), 2, {"ztf", "brokers", "ebs-classifications"}, dir);
  const std::string servers = broker.servers;

  // The 50 real ZTF alerts on topic ztf; ALeRCE-like and Fink-like classifications of the first
  // 10 (and one of an alert that never comes) on topic brokers.
  auto alerts = test::ztf_alerts();
  REQUIRE(alerts.size() == 50);
  std::vector<int64_t> ids;
  for (size_t i = 0; i < 10; ++i) ids.push_back(alerts[i]->core().alert_id);
  const test::OtherBrokers others = test::other_brokers_classifications(ids, dir);
  const auto& given = others.given;
  auto replay = [&](const std::string& inputs, const std::string& topic) {
    test::CommandResult replayed =
        test::run_command(ebs_flow() + " replay " + inputs + " --topic " + topic + " --brokers " + servers, dir);
    REQUIRE_MESSAGE(replayed.exit_code == 0, replayed.err);
  };
  replay("'" + (test::data_dir() / "ztf/fink-20200101-v3.3").string() + "'", "ztf");
  std::string files;
  for (const std::string& f : others.files) files += " '" + f + "'";
  replay(files, "brokers");

  const std::string model = (test::source_dir() / "models/example-transient-lc-basic-1.ubj").string();
  std::ofstream(dir / "wf.yaml") << R"(name: exchange
actors:
  - id: ztf
    type: kafka
    config: {topics: [ztf], assign: true, stop_at_end: true, bootstrap.servers: ")" + servers + R"("}
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
    config: {topic: ebs-classifications, format: elasticc, bootstrap.servers: ")" + servers + R"("}
    inputs: [classes.classifications]
  - id: others
    type: classification-kafka
    config: {topics: [brokers], assign: true, stop_at_end: true, bootstrap.servers: ")" + servers + R"("}
  - id: join
    type: classification-join
    config: {wait_for: [ALeRCE, Fink], hold_seconds: 120}
    inputs: {alerts: classes.alerts, classifications: others.classifications}
  - id: vote
    type: consensus
    config: {broker_name: ebs-test, scores: {transient: SN-like}, weights: {ALeRCE: 1, Fink/snn 2.0: 3, ebs-test: 2},
             expect: [ALeRCE, Fink, AMPEL], min_inputs: 2}
    inputs: [join.out]
  - id: store
    type: jsonl
    config: {path: joined.jsonl, with_raw: false}
    inputs: [vote.out]
  - id: late
    type: jsonl
    config: {path: unmatched.jsonl}
    inputs: [join.unmatched]
)";
  test::CommandResult ran = test::run_command(ebs_flow() + " run wf.yaml --quiet --run-dir run", dir);
  INFO("stderr: " << ran.err);
  REQUIRE(ran.exit_code == 0);

  // The ELAsTiCC topic, read back by python3-avro: one message per alert, alertId = diaSourceId =
  // candid, the probabilities the scorer's score p and 1 - p.
  std::map<int64_t, double> score_of;
  const std::vector<json> joined = json_lines_of(dir / "run" / "joined.jsonl");
  REQUIRE(joined.size() == 50);
  for (const json& alert : joined)
    for (const json& a : alert["annotations"])
      if (a["actor_type"] == "xgboost-score" && a["name"] == "transient")
        score_of[std::stoll(alert["alert_id"].get<std::string>())] = a["value"].get<double>();
  REQUIRE(score_of.size() == 50);
  const std::vector<std::string> messages = test::read_topic(servers, "ebs-classifications", 2);
  REQUIRE(messages.size() == 50);
  std::map<int64_t, int> published;
  for (const json& m : test::read_elasticc_messages(messages, dir / "published")) {
    const int64_t candid = m["alertId"].get<int64_t>();
    ++published[candid];
    REQUIRE(score_of.count(candid));
    test::check_our_elasticc_message(m, score_of.at(candid));
  }
  CHECK(published.size() == 50);  // every alert once

  // The stray classification leaves on `unmatched`.
  const std::vector<json> lost = json_lines_of(dir / "run" / "unmatched.jsonl");
  REQUIRE(lost.size() == 1);
  CHECK(lost[0]["alertId"] == "42");

  // The consensus of each joined alert, by hand: weights ALeRCE 1, Fink 3, ours 2 (total 6) over
  // ALeRCE (2222 a, 2224 1 - a), Fink (2222 b, 2332 1 - b) and ours (2220 p, 200 1 - p).
  size_t with_consensus = 0;
  for (const json& alert : joined) {
    const int64_t id = std::stoll(alert["alert_id"].get<std::string>());
    const json* consensus = nullptr;
    for (const json& a : alert["annotations"])
      if (a["actor_type"] == "consensus") consensus = &a;
    if (!given.count(id)) {
      CHECK(consensus == nullptr);  // ours alone: fewer than min_inputs 2
      continue;
    }
    ++with_consensus;
    REQUIRE(consensus);
    const double a = given.at(id).first, b = given.at(id).second, p = score_of.at(id);
    const std::map<int, double> expected{{2222, (1 * a + 3 * b) / 6}, {2224, (1 - a) / 6}, {2332, 3 * (1 - b) / 6},
                                         {2220, 2 * p / 6}, {200, 2 * (1 - p) / 6}};
    const json& details = (*consensus)["details"];
    REQUIRE(details["classifications"].size() == expected.size());
    for (const json& c : details["classifications"]) {
      REQUIRE(expected.count(c["classId"].get<int>()));
      CHECK(c["probability"].get<double>() == doctest::Approx(expected.at(c["classId"].get<int>())).epsilon(1e-5));
    }
    std::map<std::string, double> weights;
    for (const json& in : details["inputs"]) {
      const std::string name = in["name"];  // broker/classifier
      weights[name.substr(0, name.find('/'))] = in["weight"];
    }
    CHECK(weights == std::map<std::string, double>{{"ALeRCE", 1}, {"Fink", 3}, {"ebs-test", 2}});
    CHECK(details["missing"] == json::array({"AMPEL"}));
  }
  CHECK(with_consensus == 10);
  fs::remove_all(dir);
}
