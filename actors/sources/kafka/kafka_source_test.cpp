// End to end through librdkafka's mock cluster: files -> broker -> kafka source -> kafka sink
// (and jsonl), restarts on the same group, bad messages.
#include "actors/common/kafka/kafka_source.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "actors/common/avro/container_file.h"
#include "actors/common/kafka/kafka_client.h"
#include "test/support/avro_test_files.h"
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

std::vector<std::string> sorted_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// One Avro container holding the single record of a ZTF alert file `copies` times: a message
// as large as we like that decodes into `copies` alerts.
std::string repeated_alert(const fs::path& file, int copies) {
  const std::string bytes = *avro::testing::read_file(file);
  avro::ContainerHeader header = avro::read_container_header(bytes, file.string());
  REQUIRE(header.codec == avro::Codec::null);
  avro::ContainerBlocks blocks(bytes, header, file.string());
  avro::ContainerBlock block;
  REQUIRE(blocks.next(block));
  REQUIRE(block.object_count == 1);
  std::string data;
  for (int i = 0; i < copies; ++i) data.append(block.data);
  return avro::container_file(header.schema, avro::Codec::null, header.sync,
                              avro::encode_block(copies, data, header.sync));
}


}  // namespace

TEST_CASE("records viewing librdkafka's buffers come out the same as from copied messages") {
  Fixture f;
  f.broker.create_topic("ztf", 4);
  REQUIRE(f.publish("ztf", {(test::data_dir() / "ztf").string()}).messages == 86);
  auto workflow = [&](const std::string& budget, const std::string& file) {
    return R"(
name: views
actors:
  - id: src
    type: kafka
    config: {topics: [ztf], assign: true, start: earliest, stop_at_end: true, view_budget_bytes: ")" + budget + R"(",
             bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: )" + file + R"(, with_raw: true, with_bytes: true}
)";
  };
  RunResult copied = f.run(workflow("0", "copied.jsonl"));
  REQUIRE(copied.accounting_ok);
  CHECK(test::actor_counter(copied, "src", "messages_viewed") == 0);
  CHECK(test::actor_counter(copied, "src", "messages_copied") == 86);
  RunResult viewed = f.run(workflow("64 MiB", "viewed.jsonl"));
  REQUIRE(viewed.accounting_ok);
  CHECK(test::actor_counter(viewed, "src", "messages_viewed") == 86);
  CHECK(test::actor_counter(viewed, "src", "messages_copied") == 0);
  CHECK(test::actor_counter(viewed, "src", "pinned_bytes") == 0);  // every record gone, every pin released
  const std::vector<std::string> a = sorted_lines(f.dir / "copied.jsonl"), b = sorted_lines(f.dir / "viewed.jsonl");
  CHECK(a.size() == 86);
  CHECK((a == b));
}

TEST_CASE("behind a slow sink, large viewed messages pin no more than the budget and nothing is lost") {
  Fixture f;
  f.broker.create_topic("big", 12);
  // 12 messages of 15 alerts each (~1 MB), keyed (the same partitions every run): the mock broker
  // keeps ~5 MiB a partition.
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(test::data_dir() / "ztf"))
    if (e.path().extension() == ".avro") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 12);
  std::set<uint64_t> expected;
  {
    kafka::Publisher p({{"bootstrap.servers", f.broker.bootstrap_servers()}, {"message.max.bytes", "3000000"}}, "big");
    for (size_t i = 0; i < 12; ++i) {
      p.publish(repeated_alert(files[i], 15), files[i].stem().string());
      expected.insert(std::stoull(files[i].stem().string()));
    }
    p.flush();
  }
  // The source fetches 3 MB (its message.max.bytes): a viewed message counts ~2.25 windows of
  // 3.25 MB at worst, so a budget of 8 MiB views one or two at a time and copies the rest while
  // the sink writes 100 alerts/s and the credit windows hold the others in flight.
  constexpr uint64_t budget = uint64_t{8} << 20;
  RunResult r = f.run(R"(
name: slow
defaults: {batch_size: 15}
actors:
  - id: src
    type: kafka
    config: {topics: [big], assign: true, stop_at_end: true, group: slow, message.max.bytes: 3000000,
             view_budget_bytes: 8 MiB, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: slow.jsonl, with_raw: false, max_records_per_s: 100}
)");
  REQUIRE(r.accounting_ok);
  CHECK(r.find("src")->in == 180);
  CHECK(r.find("out")->forwarded == 180);
  const uint64_t viewed = test::actor_counter(r, "src", "messages_viewed"), copied = test::actor_counter(r, "src", "messages_copied");
  MESSAGE("viewed " << viewed << ", copied " << copied << ", peak pinned " << test::actor_counter(r, "src", "peak_pinned_bytes"));
  CHECK(viewed + copied == 12);
  CHECK(viewed >= 1);
  CHECK(copied >= 1);
  CHECK(test::actor_counter(r, "src", "peak_pinned_bytes") <= budget);
  CHECK(test::actor_counter(r, "src", "peak_pinned_bytes") > 0);
  CHECK(test::actor_counter(r, "src", "pinned_bytes") == 0);
  std::multiset<uint64_t> ids = ids_in_jsonl(f.dir / "slow.jsonl");
  CHECK(ids.size() == 180);
  CHECK(std::set<uint64_t>(ids.begin(), ids.end()) == expected);
  for (uint64_t id : expected) CHECK(ids.count(id) == 15);
}

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
  std::string good_prefix;
  {
    kafka::Publisher p({{"bootstrap.servers", f.broker.bootstrap_servers()}}, "mixed");
    std::ifstream in(test::data_dir() / "ztf/kowalski-v3.3-v4.01/2475433850015010009.avro", std::ios::binary);
    std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    p.publish(good);
    p.publish(good_prefix = good.substr(0, 5000));
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
  CHECK(test::actor_counter(r, "src", "messages_viewed") == 4);  // decoded in librdkafka's buffers
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
  CHECK((again[0].value == good_prefix));  // the original bytes, copied out of librdkafka's buffer
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
