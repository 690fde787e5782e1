// A poisoned notice (issue 13, point 1): an LVK notice whose embedded sky map declares
// NAXIS2 = 2^63-1 among real notices. Whatever it makes the parser throw is that notice's dead
// letter (with its bytes); the source reads on, accounting balances, and a Kafka group commits
// only past what was handled: with a dead-letter file that cannot be written, not past the
// poison at all, and the next run reads it again.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actors/common/kafka/kafka_client.h"
#include "test/support/kafka_test_support.h"
#include "engine/util/base64.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// S230518h's INITIAL notice with its map's table declaring 2^63-1 rows.
std::string poisoned_notice() {
  json notice = json::parse(test::read_file(test::data_dir() / "gcn/lvk-fink-mm/S230518h-initial.json"));
  std::string fits = base64_decode(notice["event"]["skymap"].get<std::string>(), "test");
  size_t table = fits.find("XTENSION= 'BINTABLE'");
  REQUIRE(table != std::string::npos);
  size_t card = fits.find("NAXIS2  =", table);
  REQUIRE(card != std::string::npos);
  std::string poisoned = "NAXIS2  =  9223372036854775807";
  poisoned.resize(80, ' ');
  fits.replace(card, 80, poisoned);
  notice["event"]["skymap"] = base64_encode(fits);
  notice["superevent_id"] = "S230518poison";
  return notice.dump();
}

std::vector<json> json_lines_of(const fs::path& path) {
  std::vector<json> values;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) values.push_back(json::parse(line));
  return values;
}

int64_t committed_offset(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  rd_kafka_conf_t* conf = kafka::make_conf({{"bootstrap.servers", bootstrap}, {"group.id", group}}, "test");
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  REQUIRE(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), 0);
  REQUIRE(rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  int64_t offset = list->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return offset;
}

}  // namespace

TEST_CASE("notice-files through the binary: a poisoned first and last notice are dead letters, the rest is read") {
  fs::path dir = fs::temp_directory_path() / ("ebs-poison-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "notices");
  std::string poison = poisoned_notice();
  std::ofstream(dir / "notices/00-poison.json") << poison;
  fs::copy_file(test::data_dir() / "gcn/lvk-fink-mm/S230518h-initial.json", dir / "notices/10-initial.json");
  fs::copy_file(test::data_dir() / "gcn/lvk-fink-mm/S230518h-update.json", dir / "notices/11-update.json");
  std::ofstream(dir / "notices/99-poison.json") << poison;
  std::ofstream(dir / "workflow.yaml") << R"(name: poison
dead_letters: dead-letters.jsonl
actors:
  - id: notices
    type: notice-files
    config: {path: notices}
  - id: events
    type: jsonl
    config: {path: events.jsonl}
    inputs: [notices.events]
)";
  test::CommandResult r = test::run_command((test::binary_dir() / "ebs-flow").string() +
                                                " run workflow.yaml --quiet --run-dir run --summary-json run/summary.json",
                                            dir);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  json summary = json::parse(test::read_file(dir / "run/summary.json"));
  CHECK(summary["accounting_ok"] == true);
  CHECK(summary["actors"][0]["in"] == 4);
  CHECK(summary["actors"][0]["failed"] == 2);
  auto events = json_lines_of(dir / "run/events.jsonl");
  REQUIRE(events.size() == 2);
  auto letters = json_lines_of(dir / "run/dead-letters.jsonl");
  REQUIRE(letters.size() == 2);
  for (const json& letter : letters) {
    CHECK(letter["place"].get<std::string>().find("poison.json") != std::string::npos);
    CHECK(letter["original_format"] == "json");
    CHECK(letter["original"]["superevent_id"] == "S230518poison");  // the notice itself, replayable
  }
  fs::remove_all(dir);
}

TEST_CASE("gcn-kafka: a poisoned notice is a dead letter; the group commits only past what was handled") {
  test::KafkaFixture f;
  f.broker.create_topic("gcn", 1);
  {
    kafka::Publisher publisher({{"bootstrap.servers", f.broker.bootstrap_servers()}, {"message.max.bytes", "8000000"}},
                               "gcn");
    std::string poison = poisoned_notice();
    publisher.publish(poison);
    publisher.publish(test::read_file(test::data_dir() / "gcn/lvk-fink-mm/S230518h-initial.json"));
    publisher.publish(test::read_file(test::data_dir() / "gcn/lvk-fink-mm/S230518h-update.json"));
    publisher.publish(poison);
    publisher.flush();
  }
  auto workflow = [&](const std::string& dead_letters, const std::string& events) {
    return "name: gcn\ndead_letters: " + dead_letters + R"(
actors:
  - id: gcn
    type: gcn-kafka
    config: {topics: [gcn], group: g1, stop_at_end: true, bootstrap.servers: ")" +
           f.broker.bootstrap_servers() + R"("}
  - id: events
    type: jsonl
    config: {path: )" + events + R"(}
    inputs: [gcn.events]
)";
  };
  // Dead letters that cannot be written (every write to /dev/full fails): the poison was not
  // handled, so nothing at or after it is committed, although the events were written.
  RunResult failed = f.run(workflow("/dev/full", "events-1.jsonl"));
  CHECK_FALSE(failed.errors.empty());
  CHECK(json_lines_of(f.dir / "events-1.jsonl").size() == 2);
  CHECK(committed_offset(f.broker.bootstrap_servers(), "g1", "gcn") < 0);  // none committed

  // Again with a dead-letter file: the same group reads everything again, handles it all and
  // commits to the end.
  RunResult ok = f.run(workflow("dead-letters.jsonl", "events-2.jsonl"));
  CHECK(ok.accounting_ok);
  CHECK(ok.errors.empty());
  CHECK(ok.find("gcn")->in == 4);
  CHECK(ok.find("gcn")->failed == 2);
  CHECK(json_lines_of(f.dir / "events-2.jsonl").size() == 2);
  auto letters = json_lines_of(f.dir / "dead-letters.jsonl");
  REQUIRE(letters.size() == 2);
  CHECK(letters[0]["place"].get<std::string>().starts_with("gcn/0/0"));
  CHECK(letters[1]["place"].get<std::string>().starts_with("gcn/0/3"));
  CHECK(committed_offset(f.broker.bootstrap_servers(), "g1", "gcn") == 4);
}

}  // namespace ebs
