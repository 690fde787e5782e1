#include "actors/sources/files/avro_files_source.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "engine/graph/actor_registry.h"
#include "test/support/collecting_emitter.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

struct Run {
  test::CollectingEmitter out;
  size_t produce_calls = 0;
};

// Runs a source to its end (or `max_calls` produce calls).
void run_source(ActorLogic& logic, test::CollectingEmitter& out, size_t max_calls = 100000) {
  for (size_t i = 0; i < max_calls; ++i) {
    ProduceResult r = logic.produce(16, out);
    if (r.state == ProduceResult::State::done) return;
    if (r.state == ProduceResult::State::idle) std::this_thread::sleep_for(r.retry_after);
  }
}

std::unique_ptr<ActorLogic> open_source(const ActorRegistry& registry, const std::string& yaml, ActorContext& context) {
  const ActorType* type = registry.find("avro-files");
  REQUIRE(type);
  context = test::make_context(*type, yaml);
  auto logic = type->create(context);
  logic->open(context);
  return logic;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("avro-files reads every ZTF, Rubin, PGIR and TURBO file of the shared data once") {
  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + test::data_dir().string() + "'}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  auto records = out.records();
  // 86 ZTF + 100 Rubin Spark + 3 Rubin samples + 17 PGIR + 11 TURBO; non-Avro files are dead letters.
  std::set<std::string> surveys;
  std::set<uint64_t> ids;
  for (const auto& r : records) {
    const auto& a = static_cast<const Alert&>(*r).core();
    surveys.insert(a.survey);
    ids.insert(a.alert_id);
  }
  CHECK(records.size() == 86 + 100 + 3 + 17 + 11);
  CHECK(surveys == std::set<std::string>{"PGIR", "Rubin", "TURBO", "ZTF"});
  CHECK(out.read_records == out.forwarded_records + out.failed_records);
  for (const Fault& f : out.faults) CHECK_MESSAGE(f.place().find(".avro") == std::string::npos, f.what());
}

TEST_CASE("corrupt and truncated files become dead letters with their place; the rest flows") {
  auto dir = std::filesystem::temp_directory_path() / ("ebs-avro-files-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto src = test::data_dir() / "ztf/kowalski-v3.3-v4.01";
  std::string good = slurp(src / "2475433850015010009.avro");
  std::ofstream(dir / "a-good.avro", std::ios::binary) << good;
  std::ofstream(dir / "b-truncated.avro", std::ios::binary) << good.substr(0, 30000);
  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x55;  // inside the last sync marker
  std::ofstream(dir / "c-sync.avro", std::ios::binary) << flipped;
  std::ofstream(dir / "d-garbage.avro", std::ios::binary) << "hello, not an alert";
  std::ofstream(dir / "e-good.avro", std::ios::binary) << slurp(src / "1127561442515015001.avro");

  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + (dir / "*.avro").string() + "'}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  CHECK(out.records().size() == 2);
  REQUIRE(out.faults.size() == 3);
  CHECK(out.faults[0].place().starts_with((dir / "b-truncated.avro").string() + ":byte "));
  CHECK(out.faults[1].place().starts_with((dir / "c-sync.avro").string() + ":byte "));
  CHECK(out.faults[2].place() == (dir / "d-garbage.avro").string() + ":byte 0");
  CHECK(out.read_records == 5);
  CHECK(out.read_records == out.forwarded_records + out.failed_records);
  std::filesystem::remove_all(dir);
}

TEST_CASE("speed replays by alert time; parallel instances split the files; loop starts over") {
  ActorRegistry registry;
  register_avro_files_source(registry);
  std::string glob = (test::data_dir() / "ztf/kowalski-v3.3-v4.01/1127*.avro").string();

  // The 11 alerts of 2020-02-02 span 39254 s: replayed in 0.3 s.
  ActorContext context;
  auto fast = open_source(registry, "{path: '" + glob + "'}", context);
  test::CollectingEmitter all;
  run_source(*fast, all);
  double first = 1e9, last = 0;
  for (const auto& r : all.records()) {
    first = std::min(first, static_cast<const Alert&>(*r).core().mjd_tai);
    last = std::max(last, static_cast<const Alert&>(*r).core().mjd_tai);
  }
  double span_s = (last - first) * 86400;
  REQUIRE(span_s > 100);
  double speed = span_s / 0.3;
  auto timed = open_source(registry, "{path: '" + glob + "', speed: " + std::to_string(speed) + "}", context);
  test::CollectingEmitter replayed;
  auto start = std::chrono::steady_clock::now();
  run_source(*timed, replayed);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(replayed.records().size() == 11);
  // Files in name order are not in time order: the replay takes at least the span after the
  // first file's alert, at most the whole span plus slack.
  CHECK(elapsed > 0.05);
  CHECK(elapsed < 1.5);

  std::set<uint64_t> ids;
  size_t total = 0;
  for (size_t i = 0; i < 3; ++i) {
    ActorContext c;
    const ActorType* type = registry.find("avro-files");
    c = test::make_context(*type, "{path: '" + glob + "'}");
    c.instance = i;
    c.parallelism = 3;
    auto logic = type->create(c);
    logic->open(c);
    test::CollectingEmitter out;
    run_source(*logic, out);
    total += out.records().size();
    for (const auto& r : out.records()) ids.insert(static_cast<const Alert&>(*r).core().alert_id);
  }
  CHECK(total == 11);
  CHECK(ids.size() == 11);

  auto looping = open_source(registry, "{path: '" + glob + "', loop: true}", context);
  test::CollectingEmitter looped;
  run_source(*looping, looped, 5);  // 5 x 16 records: more than one pass
  CHECK(looped.records().size() == 80);
}

}  // namespace ebs
