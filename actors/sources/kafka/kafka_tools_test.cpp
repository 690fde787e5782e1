// The kafka tools against the embedded broker holding the shared data's 50 real ZTF alerts
// (fink 2020-01-01), checked against python3-avro reading the same files.
#include "actors/sources/kafka/kafka_tools.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "actors/common/kafka/bootstrap_relay.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/replay.h"
#include "test/support/command_runner.h"
#include "test/support/python_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs;
using nlohmann::json;

namespace {

const std::string kFolder = (test::data_dir() / "ztf" / "fink-20200101-v3.3").string();

test::CommandRun run_kafka(std::vector<std::string> args) {
  args.insert(args.begin(), "kafka");
  return test::run_command(kafka::register_kafka_tool_commands, std::move(args));
}

// The broker with topic `ztf` (2 partitions) holding every alert file as one message.
struct LoadedBroker {
  kafka::EmbeddedBroker broker;
  std::string servers = broker.bootstrap_servers();
  LoadedBroker() {
    broker.create_topic("ztf", 2);
    kafka::ReplayOptions replay;
    replay.inputs = {kFolder};
    replay.topic = "ztf";
    replay.brokers = servers;
    REQUIRE(kafka::replay(replay).messages == 50);
  }
};

// candids of the alerts python3-avro reads, with magpsf < 15.5 when `bright`.
std::vector<int64_t> oracle_candids(const std::vector<std::string>& paths, bool bright) {
  const std::string out = test::run_python_oracle(R"PY(
import sys, os, json
from avro.datafile import DataFileReader
from avro.io import DatumReader
bright = sys.argv[1] == '1'
files = []
for p in sys.argv[2:]:
    files += [os.path.join(p, n) for n in sorted(os.listdir(p)) if n.endswith('.avro')] if os.path.isdir(p) else [p]
ids = []
for f in files:
    with DataFileReader(open(f, 'rb'), DatumReader()) as r:
        for rec in r:
            if not bright or rec['candidate']['magpsf'] < 15.5:
                ids.append(rec['candid'])
print(json.dumps(sorted(ids)))
)PY",
                                                  [&] {
                                                    std::vector<std::string> args = {bright ? "1" : "0"};
                                                    args.insert(args.end(), paths.begin(), paths.end());
                                                    return args;
                                                  }());
  return json::parse(out).get<std::vector<int64_t>>();
}

std::vector<int64_t> candids_of(const std::string& jsonl) {
  std::vector<int64_t> ids;
  for (const json& alert : test::json_lines(jsonl)) ids.push_back(alert["raw"]["candid"].get<int64_t>());
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

TEST_CASE("kafka topics lists partitions and watermarks") {
  LoadedBroker b;
  test::CommandRun r = run_kafka({"topics", "--brokers", b.servers});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto lines = test::json_lines(r.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["topic"] == "ztf");
  CHECK(lines[0]["partitions"].size() == 2);
  CHECK(lines[0]["messages"] == 50);
  test::CommandRun missing = run_kafka({"topics", "--brokers", b.servers, "--topic", "nope"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("no topic nope on the cluster") != std::string::npos);
}

TEST_CASE("kafka consume: every alert, a filter equal to python3-avro's, Avro files python3-avro reads back") {
  LoadedBroker b;
  test::CommandRun all = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf"});
  REQUIRE_MESSAGE(all.code == 0, all.err);
  CHECK(candids_of(all.out) == oracle_candids({kFolder}, false));

  test::CommandRun bright = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--filter", "candidate.magpsf < 15.5"});
  REQUIRE_MESSAGE(bright.code == 0, bright.err);
  const auto expected = oracle_candids({kFolder}, true);
  REQUIRE(!expected.empty());
  CHECK(expected.size() < 50);
  CHECK(candids_of(bright.out) == expected);

  const auto dir = std::filesystem::temp_directory_path() / ("ebs-kafka-consume-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  test::CommandRun files = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--filter",
                                  "candidate.magpsf < 15.5", "--format", "avro", "--output", dir.string()});
  REQUIRE_MESSAGE(files.code == 0, files.err);
  const json summary = json::parse(files.out);
  CHECK(summary["kept"] == expected.size());
  CHECK(summary["files"].size() == expected.size());
  CHECK(oracle_candids({dir.string()}, false) == expected);

  test::CommandRun three = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--count", "3"});
  CHECK(test::json_lines(three.out).size() == 3);
  CHECK(run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--filter", "mag <"}).code == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("kafka offsets and reset-group: lag per partition follows consumption and resets") {
  LoadedBroker b;
  auto lag = [&] {
    test::CommandRun r = run_kafka({"offsets", "--brokers", b.servers, "--group", "g1", "--topic", "ztf"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const json line = json::parse(r.out);
    CHECK(line["partitions"].size() == 2);
    return line["lag"].get<int64_t>();
  };
  CHECK(lag() == 50);  // nothing committed: everything is behind
  test::CommandRun part = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--group", "g1", "--count", "10"});
  REQUIRE_MESSAGE(part.code == 0, part.err);
  CHECK(lag() == 40);
  // A second run of the group resumes where the first stopped.
  test::CommandRun rest = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--group", "g1"});
  CHECK(test::json_lines(rest.out).size() == 40);
  CHECK(lag() == 0);
  test::CommandRun earliest = run_kafka({"reset-group", "--brokers", b.servers, "--group", "g1", "--topic", "ztf", "--to", "earliest"});
  REQUIRE_MESSAGE(earliest.code == 0, earliest.err);
  CHECK(lag() == 50);
  CHECK(run_kafka({"reset-group", "--brokers", b.servers, "--group", "g1", "--topic", "ztf", "--to", "latest"}).code == 0);
  CHECK(lag() == 0);
}

TEST_CASE("kafka reset-group --to TIME on the embedded (mock) cluster: offsets found by the messages' timestamps") {
  // librdkafka's mock cluster answers every look-up by time with "none"; the tools search the
  // message timestamps instead. Two replays of the 50 alerts with a known time between them.
  LoadedBroker b;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t between_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kafka::ReplayOptions again;
  again.inputs = {kFolder};
  again.topic = "ztf";
  again.brokers = b.servers;
  REQUIRE(kafka::replay(again).messages == 50);
  auto reset = [&](const std::string& to) {
    test::CommandRun r = run_kafka({"reset-group", "--brokers", b.servers, "--group", "g2", "--topic", "ztf", "--to", to});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    test::CommandRun offsets = run_kafka({"offsets", "--brokers", b.servers, "--group", "g2", "--topic", "ztf"});
    REQUIRE_MESSAGE(offsets.code == 0, offsets.err);
    return json::parse(offsets.out)["lag"].get<int64_t>();
  };
  CHECK(reset(std::to_string(between_ms)) == 50);    // the second replay is after the time
  CHECK(reset("2020-01-01T00:00:00Z") == 100);       // every message is later
  CHECK(reset("2100-01-01T00:00:00Z") == 0);         // none is: the end
  CHECK(reset(std::to_string(between_ms)) == 50);    // and back
  // What the group then reads are the second replay's messages.
  test::CommandRun read = run_kafka({"consume", "--brokers", b.servers, "--topic", "ztf", "--group", "g2"});
  REQUIRE_MESSAGE(read.code == 0, read.err);
  CHECK(test::json_lines(read.out).size() == 50);
}

TEST_CASE("kafka tail prints one short line per alert") {
  LoadedBroker b;
  test::CommandRun r = run_kafka({"tail", "--brokers", b.servers, "--topic", "ztf", "--from", "earliest", "--count", "4"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::istringstream lines(r.out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    CHECK(line.rfind("2020-01-01T", 0) == 0);  // ISO UTC first
    CHECK(line.find("ZTF") != std::string::npos);
    CHECK(line.find("ztf/") != std::string::npos);  // topic/partition/offset
  }
  CHECK(n == 4);
}

TEST_CASE("broker --port: clients bootstrap through the relay on the chosen port") {
  LoadedBroker b;
  kafka::BootstrapRelay relay("127.0.0.1", 0, b.servers);
  REQUIRE(relay.port() > 0);
  test::CommandRun r = run_kafka({"topics", "--brokers", relay.address()});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(test::json_lines(r.out)[0]["messages"] == 50);
  test::CommandRun alerts = run_kafka({"consume", "--brokers", relay.address(), "--topic", "ztf", "--count", "2"});
  CHECK(test::json_lines(alerts.out).size() == 2);
  CHECK_THROWS_WITH_AS(kafka::BootstrapRelay("127.0.0.1", relay.port(), b.servers),
                       doctest::Contains("cannot listen there"), Fault);
}
