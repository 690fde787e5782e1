#include "actors/common/repository/reader.h"

#include <doctest/doctest.h>

#include <random>

#include "test/support/repository_test_support.h"
#include "test/support/ztf_alerts.h"
#include "actors/common/repository/schema.h"
#include "actors/common/repository/sky_index.h"
#include "actors/common/repository/writer.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

std::vector<RecordPtr> scattered(size_t n, double ra0, double dec0, double spread_deg, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<RecordPtr> out;
  for (size_t i = 0; i < n; ++i) {
    double dec = std::clamp(dec0 + spread_deg * u(rng), -90.0, 90.0);
    double ra = std::fmod(ra0 + spread_deg * u(rng) / std::max(0.05, std::cos(dec * M_PI / 180)) + 360.0, 360.0);
    out.push_back(make_alert(seed * 100000 + i + 1, "o" + std::to_string(i), ra, dec, 60000 + i * 1e-4));
  }
  return out;
}

void store(const std::string& path, const std::vector<RecordPtr>& records, WriterOptions options = {}) {
  Writer writer(path, options);
  writer.begin();
  for (const RecordPtr& r : records) writer.add(*r);
  writer.commit(records.size(), records.size());
}

}  // namespace

TEST_CASE("the cone search finds exactly what a brute-force scan finds") {
  TempDir dir("repo-cone");
  const std::string path = dir.file("cone.db");
  std::vector<RecordPtr> all;
  for (auto [ra, dec, seed] : std::vector<std::tuple<double, double, uint64_t>>{{0.0, 0.0, 1}, {180, 89.9, 2}, {250, -30, 3}}) {
    auto part = scattered(3000, ra, dec, 0.3, seed);
    all.insert(all.end(), part.begin(), part.end());
  }
  store(path, all);
  Reader reader(path);
  for (const auto& cone : std::vector<std::tuple<double, double, double>>{
           {0.0, 0.0, 60}, {359.95, 0.05, 200}, {180, 89.9, 300}, {250, -30, 5}, {250.1, -30.1, 1000}}) {
    const auto [ra, dec, radius] = cone;
    const double ra_deg = ra, dec_deg = dec, radius_arcsec = radius;  // INFO's lambda cannot capture bindings (clang 14)
    std::set<int64_t> expected;
    for (const RecordPtr& r : all) {
      const AlertCore& c = static_cast<const Alert&>(*r).core();
      if (angular_distance_deg(ra, dec, c.ra, c.dec) * 3600 <= radius) expected.insert(static_cast<int64_t>(c.alert_id));
    }
    auto hits = reader.cone(ra, dec, radius, 100000);
    std::set<int64_t> found;
    double last = 0;
    for (const auto& h : hits) {
      found.insert(std::stoll(h["alert_id"].get<std::string>()));
      CHECK(h["sep_arcsec"].get<double>() >= last);  // nearest first
      last = h["sep_arcsec"].get<double>();
    }
    INFO("cone " << ra_deg << " " << dec_deg << " " << radius_arcsec);
    CHECK(found == expected);
    CHECK(!expected.empty());
  }
  CHECK(reader.cone(0, 0, 60, 3).size() == 3);
}

TEST_CASE("light curves, classes, scores and coincidences") {
  TempDir dir("repo-read");
  const std::string path = dir.file("read.db");
  auto a1 = make_alert(1, "ZTF1", 10, 10, 60000.0, {detection(59990, "g", 19)});
  auto a2 = make_alert(2, "ZTF1", 10, 10, 60001.0, {detection(59990, "g", 19), detection(60000.0, "r", 18.5)});
  auto a3 = make_alert(3, "ZTF2", 20, 20, 60002.0);
  Annotation score;
  score.kind = Annotation::Kind::score;
  score.name = "kilonova";
  score.value = 0.85;
  auto co = std::make_shared<Coincidence>();
  co->event_id = "S1";
  co->alert_id = 3;
  co->object_id = "ZTF2";
  store(path, {a1->annotated(classification("SN", 0.6)), a2->annotated(classification("SN", 0.95)),
               a3->annotated(classification("AGN", 0.99))->annotated(score), co});
  Reader reader(path);

  auto lc = reader.lightcurve("ZTF1");
  REQUIRE(lc.is_object());
  CHECK(lc["ndet"] == 3);
  CHECK(lc["nalerts"] == 2);
  REQUIRE(lc["lightcurve"].size() == 3);
  CHECK(lc["lightcurve"][0]["mjd_tai"] == 59990.0);
  CHECK(lc["lightcurve"][2]["alert_id"] == "2");
  CHECK(reader.lightcurve("nobody").is_null());

  auto sn = reader.alerts_by_class("SN", NAN, 10);
  REQUIRE(sn.size() == 2);
  CHECK(sn[0]["alert_id"] == "2");  // latest first
  CHECK(reader.alerts_by_class("SN", 0.9, 10).size() == 1);
  CHECK(reader.alerts_by_class("SN", NAN, 1).size() == 1);
  CHECK(reader.alerts_by_score("kilonova", 0.8, 10).size() == 1);
  CHECK(reader.alerts_by_score("kilonova", 0.9, 10).empty());

  auto event = reader.event_coincidences("S1");
  REQUIRE(event["coincidences"].size() == 1);
  CHECK(event["coincidences"][0]["object_id"] == "ZTF2");
  CHECK(reader.event_coincidences("S404").is_null());

  auto rows = reader.table_rows();
  CHECK(rows[1] == std::make_pair(std::string("alerts"), int64_t{3}));
}

TEST_CASE("the read-only query refuses writes and multiple statements, and binds parameters") {
  TempDir dir("repo-ro");
  const std::string path = dir.file("ro.db");
  store(path, {make_alert(9, "o9", 1, 2, 60000)});
  Reader reader(path);
  std::vector<nlohmann::json> rows;
  auto collect = [&](const nlohmann::json& row) { rows.push_back(row); };
  reader.query("SELECT alert_id, object_id FROM alerts WHERE object_id = :id", {{"id", "o9"}}, collect);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["alert_id"] == "9");
  CHECK_THROWS_WITH_AS(reader.query("DELETE FROM alerts", {}, collect), doctest::Contains("would write"), Fault);
  CHECK_THROWS_WITH_AS(reader.query("SELECT 1; DELETE FROM alerts", {}, collect), doctest::Contains("one statement"), Fault);
  CHECK_THROWS_WITH_AS(reader.query("SELECT :x", {}, collect), doctest::Contains("no value for parameter :x"), Fault);
  // Even a statement SQLite calls read-only cannot write through a read-only connection.
  CHECK_THROWS_AS(reader.database().execute("INSERT INTO alerts(alert_id, object_id, survey, ra, dec, mjd_tai) "
                                            "VALUES(10, 'x', 's', 1, 1, 1)"),
                  Fault);
  CHECK(reader.database().scalar("SELECT count(*) FROM alerts") == 1);
}

TEST_CASE("readers open a version 5 repository as it is; older and newer ones are refused") {
  TempDir dir("repo-versions");
  const std::string path = dir.file("v5.db");
  {
    Database db(path, Database::Mode::read_write);
    migrate(db, 5);
    db.execute(
        "INSERT INTO alerts(alert_id, alert_key, object_id, survey, ra, dec, hpx, mjd_tai) "
        "VALUES(1, '1', 'o1', 'ztf', 150.0, 2.0, 0, 60000.0)");
  }
  {
    Reader reader(path);  // read-only: it could not migrate, and need not (6 only dropped an index)
    CHECK(reader.version() == 5);
    std::vector<nlohmann::json> rows;
    reader.query("SELECT alert_id FROM alerts WHERE object_id = 'o1'", {},
                 [&](const nlohmann::json& row) { rows.push_back(row); });
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]["alert_id"] == "1");
  }
  CHECK(schema_version(Database(path, Database::Mode::read_only)) == 5);

  const std::string old_path = dir.file("v4.db");
  migrate(Database(old_path, Database::Mode::read_write), 4);
  CHECK_THROWS_WITH_AS(Reader{old_path}, doctest::Contains("schema version 4, this ebs-flow reads versions 5 to"),
                       Fault);
  CHECK_THROWS_WITH_AS(Reader{old_path}, doctest::Contains("open it once with the repository sink to migrate"), Fault);
  Database(path, Database::Mode::read_write).execute("INSERT INTO schema_version(version, applied_unix) VALUES(99, 0)");
  CHECK_THROWS_WITH_AS(Reader{path}, doctest::Contains("upgrade ebs-flow"), Fault);
}

TEST_CASE("alerts.raw compact (a BLOB) and as JSON text read the same: queries, raw_json(raw), rows written before") {
  TempDir dir("repo-raw-forms");
  std::vector<RecordPtr> alerts;
  for (const auto& a : ebs::test::ztf_alerts("ztf/kowalski-v3.3-v4.01")) alerts.push_back(a);
  REQUIRE(alerts.size() > 20);
  WriterOptions json_options;
  json_options.raw_format = WriterOptions::RawFormat::json;
  store(dir.file("compact.db"), alerts);
  store(dir.file("json.db"), alerts, json_options);
  // A repository of both: JSON rows written before, compact rows after.
  const std::vector<RecordPtr> before(alerts.begin(), alerts.begin() + 10), after(alerts.begin() + 10, alerts.end());
  store(dir.file("mixed.db"), before, json_options);
  store(dir.file("mixed.db"), after);
  const Reader compact(dir.file("compact.db")), json(dir.file("json.db")), mixed(dir.file("mixed.db"));
  auto rows = [](const Reader& reader, const std::string& sql) {
    std::vector<nlohmann::json> out;
    reader.query(sql, nlohmann::json::object(), [&](const nlohmann::json& row) { out.push_back(row); });
    return out;
  };
  auto scalar_text = [](const Reader& reader, const std::string& sql) {
    std::vector<std::string> out;
    reader.query_rows(sql, nlohmann::json::object(), [](const Statement&) {},
                      [&](const Statement& s) { out.emplace_back(s.is_null(0) ? "NULL" : std::string(s.text(0))); });
    return out;
  };
  CHECK(compact.database().scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = 'blob'") == int64_t(alerts.size()));
  CHECK(json.database().scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = 'text'") == int64_t(alerts.size()));
  CHECK(mixed.database().scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = 'text'") == 10);
  const std::string all = "SELECT alert_id, raw FROM alerts ORDER BY alert_id";
  const std::vector<nlohmann::json> expected = rows(json, all);
  REQUIRE(expected.size() == alerts.size());
  CHECK(expected.front()["raw"]["candidate"].is_object());
  CHECK(rows(compact, all) == expected);
  CHECK(rows(mixed, all) == expected);
  // raw_json(raw): the same JSON text byte for byte; json_extract over it as over the text.
  const std::string text = "SELECT raw_json(raw) FROM alerts ORDER BY alert_id";
  CHECK(scalar_text(compact, text) == scalar_text(json, text));
  CHECK(scalar_text(mixed, text) == scalar_text(json, text));
  CHECK(scalar_text(json, text) == scalar_text(json, "SELECT raw FROM alerts ORDER BY alert_id"));
  const std::string drb = "SELECT json_extract(raw_json(raw), '$.candidate.drb') FROM alerts ORDER BY alert_id";
  CHECK(scalar_text(compact, drb) == scalar_text(json, "SELECT json_extract(raw, '$.candidate.drb') FROM alerts ORDER BY alert_id"));
  CHECK(scalar_text(mixed, drb) == scalar_text(compact, drb));
  CHECK(scalar_text(compact, "SELECT raw_json(NULL)") == std::vector<std::string>{"NULL"});
}

TEST_CASE("a damaged alerts.raw BLOB is an error naming the alert, never a crash") {
  TempDir dir("repo-raw-damaged");
  std::vector<RecordPtr> alerts;
  for (const auto& a : ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 3)) alerts.push_back(a);
  store(dir.file("d.db"), alerts);
  const int64_t id = static_cast<const Alert&>(*alerts[1]).core().alert_id;
  {
    Database db(dir.file("d.db"), Database::Mode::read_write);
    db.execute("UPDATE alerts SET raw = substr(raw, 1, 40) WHERE alert_id = " + std::to_string(id));
  }
  const Reader reader(dir.file("d.db"));
  const std::string name = "alert " + std::to_string(id);
  auto message = [&](const std::string& sql) {
    try {
      reader.query(sql, nlohmann::json::object(), [](const nlohmann::json&) {});
    } catch (const Fault& f) {
      return f.place() + ": " + f.message();
    }
    return std::string("no error");
  };
  const std::string rows = message("SELECT alert_id, raw FROM alerts");
  CHECK_MESSAGE(rows.find("alerts.raw of " + name) != std::string::npos, rows);
  CHECK_MESSAGE(rows.find("damaged raw record (compact form)") != std::string::npos, rows);
  const std::string sql = message("SELECT raw_json(raw, alert_id) FROM alerts");
  CHECK_MESSAGE(sql.find("raw_json: alerts.raw of " + name) != std::string::npos, sql);
  CHECK(message("SELECT raw_json(raw) FROM alerts").find("raw_json: alerts.raw") != std::string::npos);
  // The other rows still read.
  CHECK(message("SELECT raw FROM alerts WHERE alert_id != " + std::to_string(id)) == "no error");
}
