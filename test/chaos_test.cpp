// Chaos through the binary, as a bad night in production would go (docs/reliability.md):
//  - an embedded Kafka broker -> ebs-flow -> a jsonl file, an SQLite repository and a PostgreSQL
//    repository, SIGKILLed at random moments and restarted (EBS_CHAOS_KILLS times, 5 by default;
//    `tools/test.sh --slow` makes it 20; EBS_CHAOS_SEED repeats a series): no alert lost, the
//    repositories hold each alert once, the jsonl file holds every line whole and its duplicates
//    are only what was written but not yet committed when a kill came;
//  - a slow webhook (the run drains and ends 0) and a hanging one (the drain stops at its bound,
//    abandons what is held, says so in the summary, exit 1);
//  - a full disk under the repository (a 1 MiB tmpfs when root, else max_size_mb): the sink stalls,
//    then ends the run with exit 1 naming the repository; what was committed stays readable;
//  - the broker SIGKILLed mid-run: the source stops after reconnect_timeout_s, what was read
//    drains, the run ends with exit 1 and says why.
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "test/support/binary_broker.h"
#include "test/support/child_process.h"
#include "test/support/kafka_offsets.h"
#include "test/support/postgres_server.h"
#include "test/support/recording_webhook.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::Child;
using test::RecordingWebhook;
using test::wait_until;

std::string ebs_flow() { return (test::binary_dir() / "ebs-flow").string(); }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("ebs-chaos-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The real ZTF alerts of the shared data: their ids are their file names.
std::set<uint64_t> ztf_ids() {
  std::set<uint64_t> ids;
  for (const auto& e : fs::recursive_directory_iterator(test::data_dir() / "ztf"))
    if (e.path().extension() == ".avro") ids.insert(std::stoull(e.path().stem().string()));
  return ids;
}

// A jsonl file read as a crash leaves it: whole lines, then at most one torn line at the end
// (never acknowledged: the next run trims it). A line that does not parse before the end is a
// broken file.
struct JsonlFile {
  std::multiset<uint64_t> ids;
  size_t whole_lines = 0;
  size_t broken_lines = 0;  // not parsable, before the last newline
  bool torn_tail = false;
};
JsonlFile read_jsonl(const fs::path& path) {
  JsonlFile f;
  std::string text = test::read_file(path);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      f.torn_tail = true;
      break;
    }
    auto j = nlohmann::json::parse(text.substr(start, end - start), nullptr, false);
    if (j.is_discarded() || !j.contains("alert_id")) ++f.broken_lines;
    else f.ids.insert(std::stoull(j["alert_id"].get<std::string>())), ++f.whole_lines;
    start = end + 1;
  }
  return f;
}

// Alert ids in a repository (SQLite file or postgresql:// URL), through `ebs-flow query`: CSV
// from SQLite, JSON lines from PostgreSQL (the only form `query` prints for it).
std::multiset<uint64_t> repository_ids(const std::string& database, const fs::path& cwd) {
  const bool postgres = database.rfind("postgresql://", 0) == 0;
  auto r = test::run_command(ebs_flow() + " query '" + database + "' 'SELECT alert_id FROM alerts'" +
                                 (postgres ? "" : " --format csv"),
                             cwd);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::multiset<uint64_t> ids;
  std::istringstream lines(r.out);
  std::string line;
  if (!postgres) std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (!postgres) {
      ids.insert(std::stoull(line));
      continue;
    }
    const nlohmann::json row = nlohmann::json::parse(line);
    const nlohmann::json& id = row.at("alert_id");
    ids.insert(id.is_string() ? std::stoull(id.get<std::string>()) : id.get<uint64_t>());
  }
  return ids;
}


// `ebs-flow broker` in a child process, with the shared data's 86 ZTF alerts published on demand.
struct Broker : test::BinaryBroker {
  Broker(const fs::path& dir, const std::string& topic, int partitions)
      : BinaryBroker(ebs_flow(), partitions, {topic}, dir) {}
  void publish_ztf(const fs::path& dir, const std::string& topic) {
    auto r = test::run_command(ebs_flow() + " replay " + (test::data_dir() / "ztf").string() + " --topic " + topic +
                                   " --brokers " + servers,
                               dir);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(nlohmann::json::parse(r.out)["messages"] == 86);
  }
};

nlohmann::json summary(const fs::path& path) {
  auto j = nlohmann::json::parse(test::read_file(path), nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), path.string() << " is not the run's summary JSON");
  return j;
}

const nlohmann::json& actor(const nlohmann::json& s, const std::string& id) {
  for (const auto& a : s["actors"])
    if (a["id"] == id) return a;
  FAIL("no actor " << id << " in the summary");
  static nlohmann::json none;
  return none;
}

}  // namespace

TEST_CASE("SIGKILLed at random moments and restarted: Kafka -> jsonl + SQLite + PostgreSQL lose nothing") {
  const auto test_started = Clock::now();
  const int kills = env_int("EBS_CHAOS_KILLS", 5);
  const unsigned seed = static_cast<unsigned>(env_int("EBS_CHAOS_SEED", static_cast<int>(std::random_device{}() % 100000)));
  MESSAGE("chaos: " << kills << " kills, EBS_CHAOS_SEED=" << seed);
  std::mt19937 random(seed);
  fs::path dir = fresh_dir("kill");
  constexpr int kPartitions = 4;
  Broker broker(dir, "ztf", kPartitions);
  broker.publish_ztf(dir, "ztf");
  test::PostgresServer postgres;
  const std::string pg_url = postgres.create_database("chaos");
  const std::set<uint64_t> expected = ztf_ids();
  REQUIRE(expected.size() == 86);

  // The jsonl sink writes at a rate that spreads the 86 alerts over the kills, so that they land
  // before, during and after writes and commits.
  const int rate = std::max(4, static_cast<int>(86 / (kills * 1.2)));
  std::ofstream(dir / "chaos.yaml") << R"(name: chaos
defaults: {batch_size: 4}
actors:
  - id: src
    type: kafka
    config: {topics: [ztf], group: chaos, assign: true, bootstrap.servers: ")" << broker.servers << R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: out.jsonl, append: true, with_raw: false, max_records_per_s: )" << rate << R"(}
  - id: sqlite
    type: repository
    inputs: [src.alerts]
    config: {path: repo.db, flush_interval_ms: 50}
  - id: pg
    type: postgres-repository
    inputs: [src.alerts]
    config: {url: ")" << pg_url << R"(", flush_interval_ms: 50}
)";
  auto start_run = [&](int n, const std::string& extra) {
    return std::make_unique<Child>(ebs_flow() + " run chaos.yaml --quiet --run-dir run" + extra, dir,
                                   dir / ("run" + std::to_string(n) + ".out"), dir / ("run" + std::to_string(n) + ".err"));
  };

  // Per kill: lines written whole, and how far the committed offsets moved. At least once: a
  // restart re-reads exactly what was written but not committed, so the duplicates are bounded
  // by the sum of (written - committed) over the kills.
  int64_t allowed_duplicates = 0;
  int64_t committed_before = 0;
  size_t lines_before = 0;
  std::uniform_real_distribution<double> moment(0.2, 2.5);
  for (int k = 0; k < kills; ++k) {
    auto run = start_run(k, "");
    double after = moment(random);
    std::this_thread::sleep_for(std::chrono::duration<double>(after));
    REQUIRE(run->stop(SIGKILL) == 128 + SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // commits already on the wire land
    JsonlFile file = read_jsonl(dir / "run" / "out.jsonl");
    CHECK(file.broken_lines == 0);  // crash-consistent: whole lines, then at most a torn tail
    int64_t now_committed = test::committed_messages(broker.servers, "chaos", "ztf", kPartitions);
    int64_t written = static_cast<int64_t>(file.whole_lines - lines_before);
    int64_t moved = now_committed - committed_before;
    MESSAGE("kill " << k + 1 << " after " << after << " s: " << written << " lines written, committed " << moved
                    << (file.torn_tail ? ", torn last line" : ""));
    CHECK(moved <= written);  // never committed what the jsonl sink had not written
    allowed_duplicates += written - moved;
    committed_before = now_committed;
    lines_before = file.whole_lines;
  }

  // The last run reads to the end of every partition and stops by itself.
  auto last = start_run(kills, " --set src.stop_at_end=true --summary-json " + (dir / "last.json").string());
  INFO("last run: " << test::read_file(dir / ("run" + std::to_string(kills) + ".err")));
  REQUIRE(wait_until([&] { return !last->running(); }, std::chrono::seconds(90)));
  CHECK(last->exit_code == 0);
  CHECK(summary(dir / "last.json")["accounting_ok"] == true);

  JsonlFile file = read_jsonl(dir / "run" / "out.jsonl");
  CHECK(file.broken_lines == 0);
  CHECK_FALSE(file.torn_tail);
  CHECK(std::set<uint64_t>(file.ids.begin(), file.ids.end()) == expected);  // nothing lost
  int64_t duplicates = static_cast<int64_t>(file.ids.size()) - static_cast<int64_t>(expected.size());
  MESSAGE("jsonl: " << file.ids.size() << " lines, " << duplicates << " duplicates (at most " << allowed_duplicates
                    << " allowed: written but not committed at a kill)");
  CHECK(duplicates <= allowed_duplicates);
  auto in_sqlite = repository_ids((dir / "run" / "repo.db").string(), dir);
  auto in_postgres = repository_ids(pg_url, dir);
  CHECK(std::set<uint64_t>(in_sqlite.begin(), in_sqlite.end()) == expected);
  CHECK(in_sqlite.size() == expected.size());  // each alert once
  CHECK(std::set<uint64_t>(in_postgres.begin(), in_postgres.end()) == expected);
  CHECK(in_postgres.size() == expected.size());
  CHECK(test::committed_messages(broker.servers, "chaos", "ztf", kPartitions) == 86);
  MESSAGE("chaos test took " << seconds_since(test_started) << " s");
  fs::remove_all(dir);
}

namespace {

// 11 real ZTF alerts of 2020-02-02 to a webhook.
void write_webhook_workflow(const fs::path& dir, const std::string& url) {
  std::ofstream(dir / "hook.yaml") << R"(name: hook
actors:
  - id: src
    type: avro-files
    config: {path: ')" << (test::data_dir() / "ztf/kowalski-v3.3-v4.01/1127*.avro").string() << R"('}
  - id: hook
    type: webhook
    inputs: [src.alerts]
    config: {url: ')" << url << R"(', timeout_ms: 1000, retries: 2, backoff_ms: 100}
)";
}

}  // namespace

TEST_CASE("a slow webhook drains within the drain timeout; a hanging one is cut at it, reported, exit 1") {
  fs::path dir = fresh_dir("webhook");
  SUBCASE("slow: 150 ms an answer") {
    RecordingWebhook endpoint({.delay = std::chrono::milliseconds(150)});
    write_webhook_workflow(dir, endpoint.url());
    auto r = test::run_command(ebs_flow() + " run hook.yaml --quiet --run-dir run --drain-timeout 10 --summary-json s.json", dir);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    auto s = summary(dir / "s.json");
    CHECK(s["drain"]["timed_out"] == false);
    CHECK(actor(s, "hook")["forwarded"] == 11);
    CHECK(endpoint.requests() == 11);
  }
  SUBCASE("hanging: no answer at all") {
    RecordingWebhook endpoint({.gated = true});  // never answers (until the test ends)
    write_webhook_workflow(dir, endpoint.url());
    auto started = Clock::now();
    // The workflow's default bound (20 s) is overridden on the command line.
    auto r = test::run_command(ebs_flow() + " run hook.yaml --quiet --run-dir run --drain-timeout 2 --summary-json s.json", dir);
    double took = seconds_since(started);
    INFO(r.err);
    MESSAGE("a hanging webhook: the run ended after " << took << " s (drain timeout 2 s; one record's retries take 3.3 s)");
    CHECK(r.exit_code == 1);
    // Not the 11 x 3.3 s the retries would take: the drain's bound, plus start and teardown.
    CHECK(took < 20);
    CHECK(r.err.find("drain did not end within drain_timeout_s = 2 s") != std::string::npos);
    CHECK(r.err.find("still busy: hook") != std::string::npos);
    auto s = summary(dir / "s.json");
    CHECK(s["drain"]["timed_out"] == true);
    CHECK(s["drain"]["timeout_s"] == 2);
    const auto& hook = actor(s, "hook");
    // Nothing was delivered nor dead-lettered: the webhook held all 11 when it was cut.
    CHECK(s["drain"]["busy_actors"] == nlohmann::json::array({"hook"}));
    CHECK(hook["forwarded"] == 0);
    CHECK(s["drain"]["unhandled_records"] == 11 - hook["failed"].get<int>());
    CHECK(s["drain"]["unhandled_records"].get<int>() >= 1);
  }
  fs::remove_all(dir);
}

TEST_CASE("a full disk under the repository: the sink stalls, then the run ends with exit 1; what was committed stays") {
  fs::path dir = fresh_dir("disk");
  fs::path disk = dir / "disk";
  fs::create_directories(disk);
  bool mounted = ::geteuid() == 0 && ::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=1m") == 0;
  std::string quota = mounted ? "" : ", max_size_mb: 1";
  MESSAGE((mounted ? "a 1 MiB tmpfs under the repository" : "not root (or no mount): max_size_mb: 1 instead"));
  std::ofstream(dir / "disk.yaml") << R"(name: disk
actors:
  - id: src
    type: avro-files
    config: {path: ')" << (test::data_dir() / "ztf").string() << R"('}
  - id: repo
    type: repository
    inputs: [src.alerts]
    config: {path: ')" << (disk / "repo.db").string() << R"(', cutouts_dir: ')" << (disk / "cutouts").string()
                                 << R"(', commit_records: 8, stall_timeout_s: 2)" << quota << R"(}
)";
  auto started = Clock::now();
  auto r = test::run_command(ebs_flow() + " run disk.yaml --quiet --run-dir run --summary-json s.json", dir);
  double took = seconds_since(started);
  INFO(r.err);
  MESSAGE("full disk: the run ended after " << took << " s (stall_timeout_s 2)");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("repo") != std::string::npos);
  CHECK(took < 30);
  auto s = summary(dir / "s.json");
  CHECK(actor(s, "repo")["forwarded"].get<int>() < 86);
  // What was committed before the disk filled is whole and readable.
  auto stored = repository_ids((disk / "repo.db").string(), dir);
  CHECK(stored.size() == actor(s, "repo")["forwarded"].get<size_t>());
  if (mounted) ::umount(disk.c_str());
  fs::remove_all(dir);
}

TEST_CASE("the broker SIGKILLed mid-run: the source stops after reconnect_timeout_s, what was read drains, exit 1") {
  fs::path dir = fresh_dir("broker");
  Broker broker(dir, "ztf", 2);
  broker.publish_ztf(dir, "ztf");
  std::ofstream(dir / "gone.yaml") << R"(name: gone
defaults: {batch_size: 4}
actors:
  - id: src
    type: kafka
    config: {topics: [ztf], group: gone, assign: true, reconnect_timeout_s: 2, bootstrap.servers: ")"
                                   << broker.servers << R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: out.jsonl, with_raw: false, max_records_per_s: 20}
)";
  Child run(ebs_flow() + " run gone.yaml --quiet --run-dir run --summary-json s.json", dir, dir / "run.out", dir / "run.err");
  REQUIRE(wait_until([&] { return read_jsonl(dir / "run" / "out.jsonl").whole_lines >= 10; }, std::chrono::seconds(30)));
  broker.child.stop(SIGKILL);
  auto gone_at = Clock::now();
  REQUIRE(wait_until([&] { return !run.running(); }, std::chrono::seconds(60)));
  double took = seconds_since(gone_at);
  CHECK(run.exit_code == 1);
  std::string err = test::read_file(dir / "run.err");
  INFO(err);
  MESSAGE("broker gone: the run ended " << took << " s later (reconnect_timeout_s 2)");
  CHECK(err.find("lost the Kafka broker") != std::string::npos);
  auto s = summary(dir / "s.json");
  CHECK_FALSE(s["failures"].empty());
  CHECK(s["accounting_ok"] == true);  // what was read drained: nothing held, nothing lost in the run
  JsonlFile file = read_jsonl(dir / "run" / "out.jsonl");
  CHECK(file.broken_lines == 0);
  CHECK_FALSE(file.torn_tail);
  CHECK(file.whole_lines == actor(s, "src")["forwarded"].get<size_t>());
  fs::remove_all(dir);
}

}  // namespace ebs
