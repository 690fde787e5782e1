// End to end through librdkafka's mock cluster: files -> broker -> kafka source -> kafka sink
// (and jsonl), restarts on the same group, bad messages.
#include "actors/common/kafka/kafka_source.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "actors/common/kafka/kafka_client.h"
#include "test/support/kafka_test_support.h"
#include "actors/common/kafka/replay.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/engine.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;

using Fixture = test::KafkaFixture;
using test::read_topic;

std::multiset<uint64_t> ids_in_jsonl(const fs::path& path) {
  std::multiset<uint64_t> ids;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) ids.insert(std::stoull(nlohmann::json::parse(line).at("alert_id").get<std::string>()));
  return ids;
}

std::set<uint64_t> ztf_ids() {
  std::set<uint64_t> ids;
  for (const auto& e : fs::recursive_directory_iterator(test::data_dir() / "ztf"))
    if (e.path().extension() == ".avro") ids.insert(std::stoull(e.path().stem().string()));
  return ids;
}

}  // namespace

TEST_CASE("files -> embedded broker -> kafka source -> kafka sink keeps every alert exactly once") {
  Fixture f;
  f.broker.create_topic("ztf", 4);
  f.broker.create_topic("out", 2);
  CHECK(f.publish("ztf", {(test::data_dir() / "ztf").string()}).messages == 86);
  RunResult r = f.run(R"(
name: roundtrip
actors:
  - id: src
    type: kafka
    parallelism: 2
    config: {topics: [ztf], assign: true, stop_at_end: true, group: roundtrip,
             bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: out
    type: kafka-sink
    inputs: [src.alerts]
    config: {topic: out, with_raw: false, properties: {bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}}
)");
  REQUIRE(r.accounting_ok);
  CHECK(r.find("src")->in == 86);
  CHECK(r.find("out")->forwarded == 86);
  std::multiset<uint64_t> out;
  std::set<std::string> keys;
  for (const std::string& v : read_topic(f.broker.bootstrap_servers(), "out", 2)) {
    auto j = nlohmann::json::parse(v);
    out.insert(std::stoull(j.at("alert_id").get<std::string>()));
  }
  std::set<uint64_t> expected = ztf_ids();
  CHECK(out.size() == 86);
  CHECK(std::set<uint64_t>(out.begin(), out.end()) == expected);
}

TEST_CASE("a consumer stopped mid-stream resumes from its committed offset: nothing lost") {
  Fixture f;
  f.broker.create_topic("ztf", 3);
  f.publish("ztf", {(test::data_dir() / "ztf").string()});
  auto workflow = [&](const std::string& extra, const std::string& file) {
    return R"(
name: restart
defaults: {batch_size: 8}
actors:
  - id: src
    type: kafka
    config: {topics: [ztf], assign: true, group: resume, )" + extra + R"(,
             bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: )" + file + R"(}
)";
  };
  RunResult first = f.run(workflow("max_messages: 30", "first.jsonl"));
  REQUIRE(first.accounting_ok);
  CHECK(first.find("src")->in == 30);
  RunResult second = f.run(workflow("stop_at_end: true", "second.jsonl"));
  REQUIRE(second.accounting_ok);
  auto a = ids_in_jsonl(f.dir / "first.jsonl");
  auto b = ids_in_jsonl(f.dir / "second.jsonl");
  std::set<uint64_t> seen(a.begin(), a.end());
  seen.insert(b.begin(), b.end());
  CHECK(seen == ztf_ids());  // at least once: nothing missing
  size_t duplicates = a.size() + b.size() - seen.size();
  MESSAGE("duplicates after the restart: " << duplicates);
  CHECK(b.size() == 86 - 30);  // the first run committed all it had written
  CHECK(duplicates == 0);
}

TEST_CASE("corrupt and truncated messages become dead letters named topic/partition/offset") {
  Fixture f;
  f.broker.create_topic("mixed", 1);
  {
    kafka::Publisher p({{"bootstrap.servers", f.broker.bootstrap_servers()}}, "mixed");
    std::ifstream in(test::data_dir() / "ztf/kowalski-v3.3-v4.01/2475433850015010009.avro", std::ios::binary);
    std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    p.publish(good);
    p.publish(good.substr(0, 5000));
    p.publish("garbage");
    p.publish(good);
    p.flush();
  }
  RunResult r = f.run(R"(
name: bad
dead_letters: dead-letters.jsonl
actors:
  - id: src
    type: kafka
    config: {topics: [mixed], assign: true, stop_at_end: true, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: n
    type: count
    inputs: [src.alerts]
)");
  REQUIRE(r.accounting_ok);
  CHECK(r.find("src")->in == 4);
  CHECK(r.find("src")->forwarded == 2);
  CHECK(r.find("src")->failed == 2);
  std::ifstream in(f.dir / "dead-letters.jsonl");
  std::vector<nlohmann::json> letters;
  for (std::string line; std::getline(in, line);) letters.push_back(nlohmann::json::parse(line));
  REQUIRE(letters.size() == 2);
  CHECK(letters[0]["place"].get<std::string>().starts_with("mixed/0/1:byte "));
  CHECK(letters[1]["place"] == "mixed/0/2:byte 0");
  CHECK(letters[1]["original_format"] == "avro");

  // The dead letters replay like alert files.
  uint64_t skipped = 0;
  auto again = kafka::messages_of_file(f.dir / "dead-letters.jsonl", "ocf", -1, skipped);
  REQUIRE(again.size() == 2);
  CHECK(again[1].value == "garbage");
}

// 14 MB of Rubin alerts on random partitions: 16 keep each far below the mock broker's ~5 MiB.
TEST_CASE("a kafka source with an embedded broker preloads its topic: no server needed") {
  Fixture f;
  RunResult r = f.run(R"(
name: embedded
actors:
  - id: src
    type: kafka
    config: {topics: [rubin], assign: true, stop_at_end: true,
             embedded_broker: {partitions: 16, preload: [")" + (test::data_dir() / "lsst/rubin-lsstcam-v9-spark").string() + R"("]}}
  - id: n
    type: count
    inputs: [src.alerts]
)");
  REQUIRE(r.accounting_ok);
  CHECK(r.find("src")->in == 100);
  CHECK(r.find("n")->in == 100);
}

TEST_CASE("a workflow that raises message.max.bytes above the 2 MiB fetch default still runs") {
  // librdkafka refuses a consumer whose fetch.max.bytes is under its message.max.bytes: the
  // source's own fetch default must follow a raised message limit.
  Fixture f;
  f.broker.create_topic("big", 2);
  CHECK(f.publish("big", {(test::data_dir() / "ztf").string()}).messages == 86);
  RunResult r = f.run(R"(
name: big-messages
actors:
  - id: src
    type: kafka
    config: {topics: [big], assign: true, stop_at_end: true, group: big, message.max.bytes: 5000000,
             bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: n
    type: count
    inputs: [src.alerts]
)");
  const std::string first_error = r.errors.empty() ? "" : r.errors.front();
  INFO(first_error);
  REQUIRE(r.accounting_ok);
  CHECK(r.find("src")->in == 86);
}

}  // namespace ebs
