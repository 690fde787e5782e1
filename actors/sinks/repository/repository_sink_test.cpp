#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "actors/sinks/repository/repository_actors.h"
#include "test/support/repository_test_support.h"
#include "actors/common/sqlite/sqlite_db.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;
using ebs::test::CollectingEmitter;

namespace {

struct SinkUnderTest : RepositorySinkHarness {
  SinkUnderTest(const std::string& yaml, const std::string& run_dir)
      : RepositorySinkHarness(register_repository_sink, "repository", "repo", yaml, run_dir) {}
};

// Drops the simulator's tokens: the tests give each batch their own.
std::vector<RecordPtr> fresh_alerts(int64_t count, int64_t seed) {
  std::vector<RecordPtr> out;
  for (const RecordPtr& r : simulated_alerts(count, seed)) {
    const auto& a = static_cast<const Alert&>(*r);
    out.push_back(std::make_shared<const Alert>(a.shared_core(), a.annotations()));
  }
  return out;
}

}  // namespace

TEST_CASE("batches are acknowledged only after COMMIT, and committed alerts go on") {
  TempDir dir("repo-sink");
  SinkUnderTest sink("{path: sub/repo.db, commit_records: 250}", dir.path().string());
  auto alerts = fresh_alerts(600, 4);
  sink.send(slice(alerts, 0, 200));
  CHECK(sink.tracker->acknowledged_through() == 0);  // pending, not committed
  CHECK(sink.out.forwarded_records == 0);
  {
    Database db(dir.file("sub/repo.db"), Database::Mode::read_only);
    CHECK(db.scalar("SELECT count(*) FROM alerts") == 0);  // another connection sees nothing yet
  }
  sink.send(slice(alerts, 200, 400));  // 400 >= 250: commit
  CHECK(sink.out.forwarded_records == 400);
  auto committed = sink.out.records(0);
  CHECK(committed.size() == 400);
  sink.out.sent.clear();                             // downstream has let go of the committed alerts
  CHECK(sink.tracker->acknowledged_through() == 2);  // both batches released
  sink.send(slice(alerts, 400, 600));
  CHECK(sink.tracker->acknowledged_through() == 2);
  sink.logic->on_tick(sink.out);  // the flush interval commits the rest
  sink.out.sent.clear();
  CHECK(sink.tracker->acknowledged_through() == 3);
  CHECK(sink.out.forwarded_records == 600);
  Database db(dir.file("sub/repo.db"), Database::Mode::read_only);
  CHECK(db.scalar("SELECT count(*) FROM alerts") == 600);
  CHECK(db.scalar("SELECT records FROM sink_progress WHERE actor = 'repo'") == 600);
  CHECK(db.scalar("SELECT commits FROM sink_progress WHERE actor = 'repo'") == 2);
}

TEST_CASE("sky events are delivered, bad alerts dead-lettered, the rest committed") {
  TempDir dir("repo-sink-any");
  SinkUnderTest sink("{path: any.db, commit_records: 1}", dir.path().string());
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S1";
  sink.send({make_alert(1, "a", 1, 1, 60000), make_alert(2, "b", 1, 95, 60000), event}, PortType::any);
  CHECK(sink.out.failed_records == 1);
  CHECK(sink.out.faults[0].message().find("no valid position") != std::string::npos);
  CHECK(sink.out.forwarded_records == 1);  // the good alert, on `committed`
  CHECK(sink.out.delivered_records == 1);  // the sky event
  sink.out.sent.clear();
  CHECK(sink.tracker->acknowledged_through() == 1);
}

TEST_CASE("a locked database stalls the sink, which gives up after stall_timeout_s: what was committed stays, nothing else is acknowledged") {
  TempDir dir("repo-locked");
  SinkUnderTest sink("{path: locked.db, commit_records: 100, busy_timeout_ms: 50, stall_timeout_s: 0.4}",
                     dir.path().string());
  auto alerts = fresh_alerts(300, 8);
  sink.send(slice(alerts, 0, 100));  // committed
  sink.out.sent.clear();
  REQUIRE(sink.tracker->acknowledged_through() == 1);

  // Another connection takes the write lock and keeps it.
  Database other(dir.file("locked.db"), Database::Mode::read_write, 0);
  other.execute("BEGIN IMMEDIATE");
  sink.send(slice(alerts, 100, 200));
  CHECK_FALSE(sink.logic->accepting());  // stalled: no more input, no credit upstream
  sink.send(slice(alerts, 200, 300));    // (the runtime would not send this one)
  sink.logic->on_tick(sink.out);
  sink.logic->on_end_of_stream(sink.out);  // retries until the time-out, then gives up
  REQUIRE(sink.out.aborted.size() == 1);
  CHECK(sink.out.aborted[0].message().find("stall_timeout_s") != std::string::npos);
  CHECK(sink.out.aborted[0].message().find("database is locked") != std::string::npos);
  CHECK(sink.tracker->acknowledged_through() == 1);
  CHECK(sink.tracker->records_acknowledged() == 100);
  CHECK(sink.tracker->records_abandoned() == 200);
  CHECK(sink.out.forwarded_records == 100);
  CHECK(sink.out.failed_records == 0);  // not dead-lettered: the records are fine
  other.execute("ROLLBACK");
  CHECK(other.scalar("SELECT count(*) FROM alerts") == 100);

  // Not even the end of the sink acknowledges what it did not store.
  sink.logic.reset();
  CHECK(sink.tracker->acknowledged_through() == 1);
  CHECK(sink.tracker->records_acknowledged() == 100);

  // A replay of everything unacknowledged into a new sink completes the repository.
  SinkUnderTest replay("{path: locked.db, commit_records: 1000}", dir.path().string());
  replay.send(slice(alerts, 100, 300));
  replay.logic->on_end_of_stream(replay.out);
  CHECK(replay.out.forwarded_records == 200);
  CHECK(other.scalar("SELECT count(*) FROM alerts") == 300);
}

TEST_CASE("a stalled sink that can write again within stall_timeout_s stores everything and goes on") {
  TempDir dir("repo-recover");
  SinkUnderTest sink("{path: r.db, commit_records: 100, busy_timeout_ms: 50, stall_timeout_s: 30}", dir.path().string());
  auto alerts = fresh_alerts(200, 9);
  Database other(dir.file("r.db"), Database::Mode::read_write, 0);
  other.execute("BEGIN IMMEDIATE");
  sink.send(slice(alerts, 0, 100));
  CHECK_FALSE(sink.logic->accepting());
  sink.logic->on_tick(sink.out);  // still locked (or too early): still stalled
  CHECK_FALSE(sink.logic->accepting());
  other.execute("ROLLBACK");
  for (int i = 0; i < 100 && !sink.logic->accepting(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sink.logic->on_tick(sink.out);
  }
  CHECK(sink.logic->accepting());
  sink.send(slice(alerts, 100, 200));
  sink.logic->on_end_of_stream(sink.out);
  CHECK(sink.out.aborted.empty());
  CHECK(sink.out.forwarded_records == 200);
  sink.out.sent.clear();
  CHECK(sink.tracker->acknowledged_through() == 2);
  CHECK(other.scalar("SELECT count(*) FROM alerts") == 200);
}

TEST_CASE("a full disk (the size quota) stalls the sink like a locked database") {
  TempDir dir("repo-full");
  SinkUnderTest sink("{path: full.db, commit_records: 200, max_size_mb: 1, stall_timeout_s: 0.2}", dir.path().string());
  auto alerts = fresh_alerts(5000, 12);
  for (size_t i = 0; i < 5000; i += 200) sink.send(slice(alerts, i, i + 200));
  sink.logic->on_end_of_stream(sink.out);
  CHECK(sink.out.aborted.size() == 1);
  sink.out.sent.clear();
  const uint64_t acknowledged = sink.tracker->records_acknowledged();
  CHECK(acknowledged > 0);
  CHECK(acknowledged < 5000);
  CHECK(sink.out.failed_records == 0);
  Database db(dir.file("full.db"), Database::Mode::read_only);
  CHECK(db.scalar("SELECT count(*) FROM alerts") == static_cast<int64_t>(acknowledged));
}

TEST_CASE("an unopenable database is a fault naming the config place") {
  ActorRegistry registry;
  register_repository_sink(registry);
  const ActorType& type = *registry.find("repository");
  ActorContext context = ebs::test::make_context(type, "{path: /proc/no/such/dir/x.db}");
  auto logic = type.create(context);
  CHECK_THROWS_WITH_AS(logic->open(context), doctest::Contains("test.yaml:1:8"), Fault);
}

TEST_CASE("replayed alerts are not counted again in the sink's alert total (/metrics)") {
  TempDir dir("repo-replay-metrics");
  SinkUnderTest sink("{path: m.db, commit_records: 50}", dir.path().string());
  auto alerts = fresh_alerts(50, 21);
  sink.send(slice(alerts, 0, 50));
  sink.send(slice(alerts, 0, 50));  // a replay after a restart: INSERT OR IGNORE writes nothing
  sink.logic->on_end_of_stream(sink.out);
  Database db(dir.file("m.db"), Database::Mode::read_only);
  CHECK(db.scalar("SELECT count(*) FROM alerts") == 50);
  CHECK(db.scalar("SELECT alerts FROM sink_progress WHERE actor = 'repo'") == 50);
}

TEST_CASE("raw_format: a compact BLOB by default, JSON text when asked; anything else is refused at validate") {
  TempDir dir("repo-sink-raw-format");
  auto alerts = fresh_alerts(20, 6);
  for (const char* format : {"", ", raw_format: compact", ", raw_format: json"}) {
    const std::string name = std::string(format).empty() ? "default" : std::string(format).substr(14);
    SinkUnderTest sink("{path: " + name + ".db, commit_records: 20" + format + "}", dir.path().string());
    sink.send(alerts);
    Database db(dir.file(name + ".db"), Database::Mode::read_only);
    const int64_t blobs = db.scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = 'blob'");
    const int64_t texts = db.scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = 'text'");
    CHECK(blobs == (name == "json" ? 0 : 20));
    CHECK(texts == (name == "json" ? 20 : 0));
  }
  ActorRegistry registry;
  register_repository_sink(registry);
  const ActorType& type = *registry.find("repository");
  std::vector<Problem> problems;
  type.check(ebs::test::make_context(type, "{path: x.db, raw_format: JSON}", dir.path().string()).config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "must be compact or json");
}
