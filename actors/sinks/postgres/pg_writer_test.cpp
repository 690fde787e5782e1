// The PostgreSQL writer against the SQLite writer: real ZTF alerts (schema 3.3 and 4.01, whose
// light curves the repository tests check against python3-avro) with annotations, a sky event and
// coincidences, written by both, give the same rows in every table; a replay writes nothing.
#include "actors/sinks/postgres/pg_writer.h"

#include <doctest/doctest.h>

#include "actors/sinks/postgres/pg_query.h"
#include "actors/common/repository/reader.h"
#include "test/support/repository_test_support.h"
#include "test/support/ztf_alerts.h"
#include "test/support/postgres_server.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::repository::testing;

namespace {

// The records of the comparison: every ZTF alert of the shared data, some annotated twice (two
// classifier versions), a gravitational-wave event, two coincidences with alerts and three with
// bursts (GW x GRB pairs).
std::vector<RecordPtr> mixed_records() {
  std::vector<RecordPtr> records;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (const auto& r : ebs::test::ztf_alerts(folder)) records.push_back(r);
  REQUIRE(records.size() == 86);
  for (size_t i = 0; i < records.size(); i += 5) {
    auto alert = std::static_pointer_cast<const Alert>(records[i]);
    Annotation crossmatch;
    crossmatch.kind = Annotation::Kind::crossmatch;
    crossmatch.catalogue = "gaia";
    crossmatch.source_id = "G" + std::to_string(i);
    crossmatch.separation_arcsec = 0.25 * static_cast<double>(i);
    crossmatch.provenance = {"xm", "crossmatch", "1.0", "beef"};
    records[i] = alert->annotated(classification("SN", 0.1 * static_cast<double>(i % 10)))
                     ->annotated(classification("SN", 0.5, "2"))
                     ->annotated(crossmatch);
  }
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S200101a";
  event->sequence = 3;
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->mjd_tai = 58849.5;
  event->far_hz = 1e-9;
  event->localization.shape = Localization::Shape::circle;
  event->localization.ra = 150;
  event->localization.dec = 20;
  event->localization.radius_deg = 10;
  event->notice_json = R"({"superevent_id":"S200101a"})";
  records.push_back(event);
  // A notice with a real sky map: its 50 % and 90 % MOCs are stored with it.
  auto mapped = std::make_shared<SkyEvent>(*event);
  mapped->event_id = "MS220722v";
  mapped->sequence = 1;
  mapped->localization = {};
  mapped->localization.shape = Localization::Shape::skymap;
  mapped->localization.skymap_fits =
      ebs::test::read_file((ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string());
  records.push_back(mapped);
  for (int i = 0; i < 2; ++i) {
    const auto& core = static_cast<const Alert&>(*records[static_cast<size_t>(i)]).core();
    auto co = std::make_shared<Coincidence>();
    co->event_id = "S200101a";
    co->event_sequence = 3;
    co->alert_id = core.alert_id;
    co->object_id = core.object_id;
    co->time_difference_s = 3600.0 * (i + 1);
    co->searched_probability = 0.3;
    co->alert_ra = core.ra;
    co->alert_dec = core.dec;
    co->alert_mag = core.mag;
    co->alert_band = core.band;
    co->alert_mjd_tai = core.mjd_tai;
    co->terms = {{"spatial", 0.7, "skymap"}, {"temporal", NAN, "window"}};
    records.push_back(co);
  }
  // The GW paired with two bursts, one pair then withdrawn: three rows differing by the other event.
  const std::pair<const char*, Coincidence::Status> pairs[] = {{"bn200101001", Coincidence::Status::active},
                                                                {"bn200101002", Coincidence::Status::active},
                                                                {"bn200101001", Coincidence::Status::withdrawn}};
  for (const auto& [other, status] : pairs) {
    auto pair = std::make_shared<Coincidence>();
    pair->event_id = "S200101a";
    pair->event_sequence = 3;
    pair->other_event_id = other;
    pair->other_event_sequence = 2;
    pair->status = status;
    pair->time_difference_s = 1.5;
    pair->false_alarm_rate = 2e-12;
    pair->terms = {{"temporal_far_hz", 3e-12, "raven"}, {"overlap_integral", 1.5, "skymaps"}};
    records.push_back(pair);
  }
  return records;
}

// JSON text columns compared as JSON (the SQLite reader parses them, the PostgreSQL query keeps text).
nlohmann::json normalized(nlohmann::json row) {
  for (auto& [key, value] : row.items())
    if (value.is_string()) {
      const std::string& s = value.get_ref<const std::string&>();
      if (!s.empty() && (s[0] == '{' || s[0] == '['))
        if (auto parsed = nlohmann::json::parse(s, nullptr, false); !parsed.is_discarded()) value = parsed;
    }
  return row;
}

const std::vector<std::pair<std::string, std::string>> kTableQueries = {
    {"objects", "SELECT * FROM objects ORDER BY object_id"},
    {"alerts", "SELECT * FROM alerts ORDER BY alert_id"},
    {"lightcurve", "SELECT * FROM lightcurve ORDER BY object_id, mjd_tai, band, kind"},
    {"annotations",
     "SELECT alert_id, object_id, mjd_tai, kind, name, value, catalogue, source_id, separation_arcsec, object_type, "
     "redshift, details, actor, actor_type, version, config_hash, fingerprint FROM annotations "
     "ORDER BY alert_id, fingerprint"},
    {"sky_events", "SELECT * FROM sky_events ORDER BY event_id, sequence"},
    {"sky_event_mocs", "SELECT * FROM sky_event_mocs ORDER BY event_id, sequence, level"},
    {"coincidences", "SELECT * FROM coincidences ORDER BY event_id, event_sequence, alert_id, other_event_id, status"},
};

std::vector<nlohmann::json> sqlite_rows(const std::string& path, const std::string& sql) {
  std::vector<nlohmann::json> rows;
  repository::Reader(path).query(sql, nlohmann::json::object(),
                                 [&](const nlohmann::json& row) { rows.push_back(normalized(row)); });
  return rows;
}

std::vector<nlohmann::json> postgres_rows(const std::string& url, const std::string& sql) {
  std::vector<nlohmann::json> rows;
  postgres::query(url, sql, nlohmann::json::object(), [&](const nlohmann::json& row) { rows.push_back(normalized(row)); });
  return rows;
}

}  // namespace

TEST_CASE("real ZTF alerts, annotations, sky events and coincidences: the same rows in PostgreSQL as in SQLite") {
  const auto records = mixed_records();
  TempDir dir("pg-writer");
  const std::string path = dir.file("ztf.db");
  const std::string url = ebs::test::fresh_postgres_database("ztf");
  {
    repository::Writer sqlite(path);
    sqlite.begin();
    for (const RecordPtr& r : records) sqlite.add(*r);
    sqlite.commit(records.size(), 86);
  }
  postgres::PgWriter writer(url);
  // In two commits, so that the second one meets objects and points the first one stored.
  for (size_t i = 0; i < records.size(); ++i) {
    writer.add(records[i]);
    if (i == 40) writer.commit();
  }
  CHECK(writer.pending() == 52);
  writer.commit();
  CHECK(writer.pending() == 0);
  CHECK(writer.counts().alerts == 86);
  CHECK(writer.counts().lightcurve_points > 500);
  CHECK(writer.counts().annotations == 18 * 3);
  CHECK(writer.counts().sky_events == 2);
  CHECK(writer.counts().coincidences == 5);

  for (const auto& table_sql : kTableQueries) {
    const auto& table = table_sql.first;
    const auto& sql = table_sql.second;  // clang 14 lambdas (INFO) cannot capture structured bindings
    INFO(table);
    auto expected = sqlite_rows(path, sql);
    auto actual = postgres_rows(url, sql);
    REQUIRE(!expected.empty());
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("row " << i);
      CHECK(actual[i] == expected[i]);
    }
  }

  // Replayed in reverse order by a new writer (a restarted sink): nothing new but a new annotation.
  postgres::PgWriter again(url);
  for (auto it = records.rbegin(); it != records.rend(); ++it) again.add(*it);
  auto reannotated = std::static_pointer_cast<const Alert>(records[3])->annotated(classification("AGN", 0.9, "3"));
  again.add(reannotated);
  again.commit();
  CHECK(again.counts().alerts == 0);
  CHECK(again.counts().alerts_duplicate == 87);
  CHECK(again.counts().lightcurve_points == 0);
  CHECK(again.counts().annotations == 1);
  CHECK(again.counts().sky_events == 0);
  CHECK(again.counts().coincidences == 0);
  for (const auto& table_sql : kTableQueries) {
    const auto& table = table_sql.first;
    const auto& sql = table_sql.second;  // clang 14 lambdas (INFO) cannot capture structured bindings
    if (table == "annotations") continue;
    INFO(table);
    CHECK(postgres_rows(url, sql) == sqlite_rows(path, sql));
  }
  auto progress = postgres_rows(url, "SELECT actor, records, alerts, commits FROM sink_progress");
  REQUIRE(progress.size() == 1);
  CHECK(progress[0]["commits"] == 3);
  CHECK(progress[0]["records"] == static_cast<int64_t>(2 * records.size() + 1));
}

TEST_CASE("a bad record is refused before anything is written") {
  postgres::PgWriter writer(ebs::test::fresh_postgres_database("bad"));
  auto no_position = make_alert(5, "o5", NAN, 10, 60000);
  CHECK_THROWS_AS(writer.add(no_position), Fault);
  CHECK(writer.pending() == 0);
  auto unreadable_map = std::make_shared<SkyEvent>();
  unreadable_map->event_id = "S1";
  unreadable_map->localization.shape = Localization::Shape::skymap;
  unreadable_map->localization.skymap_fits = "SIMPLE  = not a fits file";
  CHECK_THROWS_WITH_AS(writer.add(unreadable_map), doctest::Contains("S1"), Fault);
  CHECK(writer.pending() == 0);
  repository::WriterOptions with_cutouts;
  with_cutouts.cutouts_dir = "cutouts";
  CHECK_THROWS_AS(postgres::PgWriter(ebs::test::fresh_postgres_database("cut"), with_cutouts), Fault);
}

TEST_CASE("a light-curve cache smaller than a commit's objects still de-duplicates and counts exactly") {
  auto alerts = simulated_alerts(600, 9, 50);
  TempDir dir("pg-cache");
  const std::string path = dir.file("cache.db");
  {
    repository::Writer sqlite(path);
    sqlite.begin();
    for (const RecordPtr& r : alerts) sqlite.add(*r);
    sqlite.commit(alerts.size(), alerts.size());
  }
  const std::string url = ebs::test::fresh_postgres_database("cache");
  repository::WriterOptions small;
  small.lightcurve_cache_objects = 3;
  postgres::PgWriter writer(url, small);
  for (size_t i = 0; i < alerts.size(); ++i) {
    writer.add(alerts[i]);
    if (i % 100 == 99) writer.commit();
  }
  writer.commit();
  for (const auto& table_sql : kTableQueries) {
    const auto& table = table_sql.first;
    const auto& sql = table_sql.second;  // clang 14 lambdas (INFO) cannot capture structured bindings
    if (table != "objects" && table != "lightcurve") continue;
    INFO(table);
    CHECK(postgres_rows(url, sql) == sqlite_rows(path, sql));
  }
}
