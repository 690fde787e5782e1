// The `postgres-repository` sink: acknowledgements only after COMMIT; a server that goes away
// mid-run and comes back is reconnected to and nothing is lost or stored twice; a server that
// stays away stops the sink cleanly with nothing uncommitted acknowledged.
#include <doctest/doctest.h>

#include <thread>

#include "actors/sinks/postgres/pg_query.h"
#include "actors/sinks/postgres/postgres_actors.h"
#include "test/support/repository_test_support.h"
#include "test/support/postgres_server.h"

using namespace ebs;
using namespace ebs::repository::testing;
using ebs::test::CollectingEmitter;

namespace {

struct SinkUnderTest : RepositorySinkHarness {
  SinkUnderTest(const std::string& yaml, const std::string& run_dir)
      : RepositorySinkHarness(register_postgres_actors, "postgres-repository", "pg", yaml, run_dir) {}

  // What the sink sends on is let go at once, as a downstream sink would.
  void send(std::vector<RecordPtr> records) {
    RepositorySinkHarness::send(std::move(records));
    out.sent.clear();
  }
};

int64_t count(const std::string& url, const std::string& sql) {
  int64_t n = -1;
  postgres::query(url, sql, nlohmann::json::object(), [&](const nlohmann::json& row) { n = row.begin()->get<int64_t>(); });
  return n;
}

}  // namespace

TEST_CASE("acknowledged after COMMIT, committed alerts sent on") {
  TempDir dir("pg-sink");
  const std::string url = ebs::test::fresh_postgres_database("sink");
  SinkUnderTest sink("{url: '" + url + "', commit_records: 150, flush_interval_ms: 60000}", dir.path().string());
  auto alerts = simulated_alerts(300, 5, 30);
  sink.send(slice(alerts, 0, 100));
  CHECK(sink.tracker->acknowledged_through() == 0);  // pending, not committed
  CHECK(count(url, "SELECT count(*) FROM alerts") == 0);
  sink.send(slice(alerts, 100, 200));
  CHECK(sink.tracker->acknowledged_through() == 2);
  CHECK(count(url, "SELECT count(*) FROM alerts") == 200);
  CHECK(sink.out.forwarded_records == 200);
  sink.send(slice(alerts, 200, 300));
  sink.logic->on_tick(sink.out);
  sink.out.sent.clear();
  CHECK(sink.tracker->acknowledged_through() == 3);
  CHECK(count(url, "SELECT count(*) FROM alerts") == 300);
  CHECK(sink.out.forwarded_records == 300);
}

TEST_CASE("the identity rule of the SQLite repository: a repeat is filtered, a different alert under a stored id a dead letter") {
  TempDir dir("pg-identity");
  const std::string url = ebs::test::fresh_postgres_database("identity");
  SinkUnderTest sink("{url: '" + url + "', commit_records: 1000, flush_interval_ms: 60000}", dir.path().string());
  auto stored = make_core(42, "obj-a", 10, 20, 60000.5);
  stored->alert_key = "42";
  auto other_object = make_core(42, "obj-b", 11, 21, 60001.5);   // another alert, the same alert_id
  auto same_key = make_core(43, "obj-c", 12, 22, 60002.5);       // another alert_id, the same (survey, key)
  same_key->alert_key = "42";
  auto first = std::make_shared<const Alert>(stored);
  sink.send({first});
  sink.logic->on_tick(sink.out);
  sink.out.sent.clear();  // let go, as a downstream sink would
  REQUIRE(sink.tracker->acknowledged_through() == 1);
  // The same alert again, alone and within one transaction twice; then the two impostors.
  auto again = std::make_shared<const Alert>(stored);
  sink.send({again, again, std::make_shared<const Alert>(other_object), std::make_shared<const Alert>(same_key)});
  sink.logic->on_tick(sink.out);
  sink.out.sent.clear();
  CHECK(sink.tracker->acknowledged_through() == 2);  // dead letters and repeats are acknowledged
  CHECK(sink.out.forwarded_records == 1);            // only the first was stored
  CHECK(sink.out.filtered_records == 2);             // repeats: idempotent skips
  REQUIRE(sink.out.failed_records == 2);             // never a silent replace, never a plain duplicate
  for (const Fault& f : sink.out.faults) {
    CHECK(f.message().find("a different alert under an existing id") != std::string::npos);
    CHECK(f.message().find("obj-a") != std::string::npos);
    CHECK(f.place().starts_with("postgresql://"));
  }
  CHECK(count(url, "SELECT count(*) FROM alerts") == 1);
  CHECK(count(url, "SELECT count(*) FROM alerts WHERE object_id = 'obj-a' AND alert_id = 42") == 1);
  CHECK(count(url, "SELECT count(*) FROM objects") == 1);
  CHECK(count(url, "SELECT sum(nalerts) FROM objects") == 1);
}

TEST_CASE("the server restarts mid-run: the sink reconnects, stores everything once, acknowledges after COMMIT") {
  ebs::test::PostgresServer server;
  const std::string url = server.create_database("restart");
  TempDir dir("pg-restart");
  SinkUnderTest sink("{url: '" + url +
                         "', commit_records: 100, flush_interval_ms: 60000, reconnect_attempts: 150, "
                         "reconnect_delay_ms: 50, reconnect_max_delay_ms: 200}",
                     dir.path().string());
  auto alerts = simulated_alerts(300, 6, 40);
  sink.send(slice(alerts, 0, 100));
  REQUIRE(sink.tracker->acknowledged_through() == 1);
  server.stop();  // every connection dropped, as in a crash
  std::thread restart([&] {  // the sink retries for up to 30 s: a loaded machine starts PostgreSQL slowly
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server.start();
  });
  sink.send(slice(alerts, 100, 200));  // the commit fails, waits, reconnects, commits
  restart.join();
  CHECK(sink.tracker->acknowledged_through() == 2);
  sink.send(slice(alerts, 200, 300));
  CHECK(sink.tracker->acknowledged_through() == 3);
  CHECK(count(url, "SELECT count(*) FROM alerts") == 300);
  CHECK(count(url, "SELECT count(*) FROM (SELECT object_id, mjd_tai, band, kind FROM lightcurve "
                   "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d") == 0);
  CHECK(count(url, "SELECT sum(nalerts) FROM objects") == 300);
  CHECK(sink.out.forwarded_records == 300);
}

TEST_CASE("the server goes away for good: a clean stop, nothing uncommitted acknowledged") {
  TempDir dir("pg-kill");
  auto alerts = simulated_alerts(300, 7, 40);
  std::shared_ptr<AckTracker> tracker;
  std::string url;
  auto server = std::make_unique<ebs::test::PostgresServer>();
  url = server->create_database("kill");
  {
    SinkUnderTest sink("{url: '" + url +
                           "', commit_records: 100, flush_interval_ms: 60000, reconnect_attempts: 2, "
                           "reconnect_delay_ms: 20}",
                       dir.path().string());
    tracker = sink.tracker;
    sink.send(slice(alerts, 0, 100));
    REQUIRE(tracker->acknowledged_through() == 1);
    server->stop();
    sink.send(slice(alerts, 100, 200));  // fails, retries twice, stops
    sink.send(slice(alerts, 200, 300));  // held
    sink.logic->on_end_of_stream(sink.out);
    sink.out.sent.clear();
    CHECK(tracker->acknowledged_through() == 1);
    CHECK(tracker->records_acknowledged() == 100);
    CHECK(sink.out.forwarded_records == 100);
    CHECK(sink.out.failed_records == 0);  // the records are fine: held, not dead-lettered
  }
  // Not even tearing the sink down acknowledges what it never stored.
  CHECK(tracker->acknowledged_through() == 1);
  CHECK(tracker->records_acknowledged() == 100);
  // What was acknowledged is exactly what the database holds.
  server->start();
  CHECK(count(url, "SELECT count(*) FROM alerts") == 100);
}

TEST_CASE("configuration problems") {
  ActorRegistry registry;
  register_postgres_actors(registry);
  const ActorType& type = *registry.find("postgres-repository");
  std::vector<Problem> problems;
  ActorContext context = ebs::test::make_context(type, "{url: 'repo.db', commit_records: 0}");
  type.check(context.config, problems);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].message == "expected a postgresql:// URL");
  CHECK(problems[1].message == "must be at least 1");
  // A server that refuses the connection fails open() with the url's place.
  TempDir dir("pg-open");
  CHECK_THROWS_AS(SinkUnderTest("{url: 'postgresql://postgres@127.0.0.1:1/x', reconnect_attempts: 0}",
                                dir.path().string()),
                  Fault);
}
