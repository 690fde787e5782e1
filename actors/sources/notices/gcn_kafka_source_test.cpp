// gcn-kafka end to end through librdkafka's mock cluster: the real notices of shared/data/gcn
// published one per message, consumed with `assign: true`, give the same SkyEvents as
// notice-files reading the same files; a bad notice is a dead letter named topic/partition/offset.
#include "actors/sources/notices/gcn_kafka_source.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/common/kafka/kafka_client.h"
#include "test/support/kafka_test_support.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;

using ebs::test::read_file;

std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The SkyEvent JSON without the place-dependent parts (the file name or Kafka place goes into
// nothing but faults, so the rest must be identical).
std::vector<std::string> events_of(const fs::path& path) {
  std::vector<std::string> events;
  for (const std::string& line : lines_of(path)) events.push_back(nlohmann::json::parse(line).dump());
  return events;
}

}  // namespace

TEST_CASE("gcn-kafka gives the SkyEvents notice-files gives; a bad notice is a dead letter at topic/partition/offset") {
  const fs::path gcn = test::data_dir() / "gcn";
  // LVK (with its base64 map; the mock MDC event is dropped by both), GCN Kafka JSON of Swift,
  // IceCube (a track search making two events), Fermi GBM, and a classic VOEvent.
  const std::vector<fs::path> notices = {
      gcn / "lvk-fink-mm/S230518h-initial.json",
      gcn / "lvk-fink-mm/S230518h-update.json",
      gcn / "lvk-fink-mm/MS230518e-mock-MDC.json",
      gcn / "gwcelery-tests/kafka_alert_swift.json",
      gcn / "gcn-schema-notices/icecube/lvk_nu_track_search.example.json",
      gcn / "gcn-schema-notices/icecube/single_neutrino_alerts.gold_bronze_track_alerts.example.json",
      gcn / "gcn-schema-notices/fermi/gbm/trigger.flight1.example.json",
      gcn / "voevent-fink-mm/voevent_number=825.xml",
  };
  test::KafkaFixture f;
  fs::create_directories(f.dir / "notices");
  f.broker.create_topic("gcn", 1);
  {
    // The mock MDC notice (its order-11 map in base64) is 1.04 MB, above librdkafka's default
    // message.max.bytes of 1,000,000: LVK notices are large, GCN's topics allow them.
    kafka::Publisher publisher({{"bootstrap.servers", f.broker.bootstrap_servers()}, {"message.max.bytes", "8000000"}},
                               "gcn");
    for (size_t i = 0; i < notices.size(); ++i) {
      std::string text = read_file(notices[i]);
      publisher.publish(text);
      // notice-files reads in name order: number the copies to keep the Kafka order.
      std::ofstream(f.dir / "notices" / (std::to_string(10 + i) + notices[i].extension().string()), std::ios::binary)
          << text;
    }
    publisher.publish("{\"alert_type\": \"INITIAL\", \"superevent_id\": \"S1\"}");  // LVK without time_created
    publisher.flush();
  }
  RunResult r = f.run(R"(
name: gcn
dead_letters: dead-letters.jsonl
actors:
  - id: kafka
    type: gcn-kafka
    config: {topics: [gcn], assign: true, stop_at_end: true, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: kafka_with_tests
    type: gcn-kafka
    config: {topics: [gcn], assign: true, stop_at_end: true, keep_test: true, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: with_tests
    type: count
    inputs: [kafka_with_tests.events]
  - id: files
    type: notice-files
    config: {path: ")" + (f.dir / "notices").string() + R"("}
  - id: from_kafka
    type: jsonl
    config: {path: kafka.jsonl}
    inputs: [kafka.events]
  - id: from_files
    type: jsonl
    config: {path: files.jsonl}
    inputs: [files.events]
)");
  REQUIRE(r.accounting_ok);
  auto from_kafka = events_of(f.dir / "kafka.jsonl");
  CHECK(from_kafka.size() == 8);  // 8 notices, minus the mock, plus a second track-search neutrino
  CHECK(from_kafka == events_of(f.dir / "files.jsonl"));
  CHECK(r.find("kafka")->failed == 1);
  CHECK(r.find("with_tests")->in == 9);  // the 1.04 MB mock notice too, flagged test
  auto letters = lines_of(f.dir / "dead-letters.jsonl");
  REQUIRE(letters.size() == 2);  // one per source
  auto letter = nlohmann::json::parse(letters[0]);
  CHECK(letter["place"].get<std::string>().starts_with("gcn/0/8"));
  CHECK(letter["reason"].get<std::string>().find("no time_created") != std::string::npos);
  CHECK(letter["original_format"] == "json");
}

}  // namespace ebs
