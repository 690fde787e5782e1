// The ebs-flow binary as an operator runs it: `ebs-flow broker` in one process, `ebs-flow replay`
// publishing real ZTF alerts into it, a workflow (kafka source on a group -> jsonl) SIGKILLed in
// the middle of the stream and started again. At least once: every alert is in the union of the
// two outputs, the second run starts at the committed offsets (not at the beginning), and the
// duplicates are only what the first run wrote but had not committed yet.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "test/support/binary_broker.h"
#include "test/support/child_process.h"
#include "test/support/kafka_offsets.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using test::Child;
using test::wait_until;

// The alert ids of a jsonl file; a line torn by the SIGKILL is left out (it was not flushed,
// hence never acknowledged nor committed).
std::multiset<uint64_t> ids_in(const fs::path& path) {
  std::multiset<uint64_t> ids;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("alert_id")) ids.insert(std::stoull(j["alert_id"].get<std::string>()));
  }
  return ids;
}


}  // namespace

TEST_CASE("ebs-flow killed mid-stream (SIGKILL) and restarted: nothing lost, resumes at the committed offset") {
  const std::string ebs_flow = (test::binary_dir() / "ebs-flow").string();
  fs::path dir = fs::temp_directory_path() / ("ebs-kafka-restart-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  constexpr int kPartitions = 4;  // 86 x ~70 KB: far below the mock broker's ~5 MiB per partition

  test::BinaryBroker broker(ebs_flow, kPartitions, {"ztf"}, dir);
  const std::string& bootstrap = broker.servers;

  std::ofstream(dir / "consume.yaml") << R"(name: consume
defaults: {batch_size: 4}
actors:
  - id: src
    type: kafka
    config: {topics: [ztf], group: restart, assign: true, bootstrap.servers: ")" << bootstrap << R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: out.jsonl, with_raw: false}
)";
  auto run = [&](const std::string& run_dir) {
    return std::make_unique<Child>(ebs_flow + " run consume.yaml --quiet --run-dir " + run_dir, dir,
                                   dir / (run_dir + ".out"), dir / (run_dir + ".err"));
  };

  // The consumer first, then the alerts at 10/s (~9 s): the kill lands while they still arrive,
  // once something is committed (the first commit waits for the group's coordinator, which a
  // loaded machine can delay past the first 20 alerts: then the resume path is not tested).
  auto first = run("first");
  Child replay(ebs_flow + " replay " + (test::data_dir() / "ztf").string() + " --topic ztf --rate 10 --brokers " + bootstrap,
               dir, dir / "replay.out", dir / "replay.err");
  REQUIRE(wait_until([&] {
    return ids_in(dir / "first" / "out.jsonl").size() >= 20 &&
           test::committed_messages(bootstrap, "restart", "ztf", kPartitions) > 0;
  }, std::chrono::seconds(30)));
  CHECK(replay.running());  // mid-stream
  CHECK(first->stop(SIGKILL) == 128 + SIGKILL);
  INFO("replay: " << test::read_file(dir / "replay.err"));
  REQUIRE(replay.wait() == 0);
  auto replayed = nlohmann::json::parse(test::read_file(dir / "replay.out"));
  REQUIRE(replayed["messages"] == 86);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // commits already on the wire land
  const int64_t committed_before = test::committed_messages(bootstrap, "restart", "ztf", kPartitions);
  auto written_first = ids_in(dir / "first" / "out.jsonl");
  MESSAGE("first run wrote " << written_first.size() << ", committed " << committed_before << " before the kill");
  CHECK(committed_before > 0);
  CHECK(committed_before <= static_cast<int64_t>(written_first.size()));

  std::set<uint64_t> expected;
  for (const auto& e : fs::recursive_directory_iterator(test::data_dir() / "ztf"))
    if (e.path().extension() == ".avro") expected.insert(std::stoull(e.path().stem().string()));
  REQUIRE(expected.size() == 86);

  auto second = run("second");
  auto union_of = [&] {
    std::set<uint64_t> all(written_first.begin(), written_first.end());
    for (uint64_t id : ids_in(dir / "second" / "out.jsonl")) all.insert(id);
    return all;
  };
  CHECK(wait_until([&] { return union_of().size() >= expected.size(); }, std::chrono::seconds(30)));
  CHECK(second->stop(SIGTERM) == 0);  // a graceful stop: drains and commits
  auto written_second = ids_in(dir / "second" / "out.jsonl");

  CHECK(union_of() == expected);  // at least once: nothing lost
  // The second run started at the committed offsets: exactly what was not committed.
  CHECK(static_cast<int64_t>(written_second.size()) == 86 - committed_before);
  size_t duplicates = 0;
  for (uint64_t id : written_first) duplicates += written_second.count(id);
  MESSAGE("second run wrote " << written_second.size() << ", " << duplicates << " of them duplicates");
  CHECK(static_cast<int64_t>(duplicates) <= static_cast<int64_t>(written_first.size()) - committed_before);
  CHECK(test::committed_messages(bootstrap, "restart", "ztf", kPartitions) == 86);  // the graceful stop committed all
  broker.child.stop(SIGTERM);
  fs::remove_all(dir);
}

}  // namespace ebs
