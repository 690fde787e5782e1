#include <doctest/doctest.h>

#include "actors/transforms/sql_filter.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/reader.h"
#include "actors/common/repository/writer.h"
#include "actors/common/sqlite/sqlite_db.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;
using ebs::test::CollectingEmitter;

namespace {

std::vector<Problem> check(const ActorType& type, const std::string& yaml) {
  ActorContext context = ebs::test::make_context(type, yaml);
  std::vector<Problem> problems;
  type.check(context.config, problems);
  return problems;
}

}  // namespace

TEST_CASE("sql-filter passes the alerts whose object has at least three detections") {
  TempDir dir("repo-sqlf");
  auto alerts = simulated_alerts(2000, 21, 300);
  {
    Writer writer(dir.file("r.db"));
    writer.begin();
    for (const RecordPtr& r : alerts) writer.add(*r);
    writer.commit(alerts.size(), alerts.size());
  }
  ActorRegistry registry;
  register_sql_filter(registry);
  const ActorType& type = *registry.find("sql-filter");
  ActorContext context = ebs::test::make_context(
      type, "{db: r.db, query: 'SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 3', annotate: true}",
      dir.path().string());
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::alert, alerts, {}), out);

  Database db(dir.file("r.db"), Database::Mode::read_only);
  Statement s = db.prepare("SELECT count(*) FROM alerts a JOIN objects o USING(object_id) WHERE o.ndet >= 3");
  REQUIRE(s.step());
  const int64_t expected = s.integer(0);
  CHECK(expected > 0);
  CHECK(expected < 2000);
  CHECK(static_cast<int64_t>(out.forwarded_records) == expected);
  CHECK(out.forwarded_records + out.filtered_records == 2000);
  const auto& first = static_cast<const Alert&>(*out.records(0).front());
  REQUIRE(first.annotations().size() == 1);
  CHECK(first.annotations().list()[0]->details.find("\"ndet\"") != std::string::npos);
}

TEST_CASE("sql-filter annotate: an alert whose row cannot be read (a damaged alerts.raw) leaves the next alert its own row") {
  TempDir dir("repo-sqlf-damaged");
  auto alerts = simulated_alerts(3, 22);
  {
    Writer writer(dir.file("r.db"));
    writer.begin();
    for (const RecordPtr& r : alerts) writer.add(*r);
    writer.commit(alerts.size(), alerts.size());
  }
  auto id = [&](size_t i) { return std::to_string(static_cast<const Alert&>(*alerts[i]).core().alert_id); };
  const std::string row_sql = "SELECT raw FROM alerts WHERE alert_id = :alert_id";
  // Each alert's row as the repository reads it, before one is damaged.
  std::vector<std::string> expected;
  {
    Reader reader(dir.file("r.db"));
    for (size_t i = 0; i < alerts.size(); ++i)
      reader.query("SELECT raw FROM alerts WHERE alert_id = " + id(i), nlohmann::json::object(),
                   [&](const nlohmann::json& row) { expected.push_back(row.dump()); });
  }
  REQUIRE(expected.size() == 3);
  CHECK(expected[0] != expected[2]);
  Database(dir.file("r.db"), Database::Mode::read_write)
      .execute("UPDATE alerts SET raw = substr(raw, 1, 40) WHERE alert_id = " + id(1));

  ActorRegistry registry;
  register_sql_filter(registry);
  const ActorType& type = *registry.find("sql-filter");
  ActorContext context = ebs::test::make_context(type, "{db: r.db, query: '" + row_sql + "', annotate: true}",
                                                 dir.path().string());
  auto logic = type.create(context);
  logic->open(context);
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}, size_t{0}}) {
    CollectingEmitter out;
    const std::vector<RecordPtr> one{alerts[i]};
    if (i == 1) {
      CHECK_THROWS_WITH_AS(logic->on_batch(0, BatchView::make(PortType::alert, one, {}), out),
                           doctest::Contains("damaged raw record"), Fault);
      continue;
    }
    logic->on_batch(0, BatchView::make(PortType::alert, one, {}), out);
    REQUIRE(out.forwarded_records == 1);
    const auto& annotated = static_cast<const Alert&>(*out.records(0).front());
    REQUIRE(annotated.annotations().size() == 1);
    CHECK(annotated.annotations().list()[0]->details == expected[i]);
  }
}

TEST_CASE("sql-filter queries are checked at validate against the repository schema") {
  ActorRegistry registry;
  register_sql_filter(registry);
  const ActorType& type = *registry.find("sql-filter");
  CHECK(check(type, "{db: x.db, query: 'SELECT 1 FROM objects WHERE object_id = :object_id'}").empty());
  auto p = check(type, "{db: x.db, query: 'SELECT 1 FROM objectz'}");
  REQUIRE(p.size() == 1);
  CHECK(p[0].place == "test.yaml:1:34");  // at the typo inside the query
  CHECK(p[0].message.starts_with("no such table: objectz (did you mean 'objects'"));
  auto column = check(type, "{db: x.db, query: 'SELECT 1 FROM objects o WHERE o.ndett >= 3'}");
  REQUIRE(column.size() == 1);
  CHECK(column[0].place == "test.yaml:1:50");
  CHECK(column[0].message.starts_with("no such column: o.ndett (did you mean 'ndet'"));
  CHECK(check(type, "{db: x.db, query: 'DELETE FROM objects'}")[0].message.find("only read") != std::string::npos);
  CHECK(check(type, "{db: x.db, query: 'SELECT :nope'}")[0].message.find("unknown parameter :nope") != std::string::npos);
  auto parameter = check(type, "{db: x.db, query: 'SELECT 1 WHERE :magg < 19'}");
  REQUIRE(parameter.size() == 1);
  CHECK(parameter[0].place == "test.yaml:1:35");
  CHECK(parameter[0].message.starts_with("unknown parameter :magg (did you mean ':mag'"));
  CHECK(check(type, "{db: x.db, query: 'SELECT 1; SELECT 2'}")[0].message.find("one statement") != std::string::npos);
}
