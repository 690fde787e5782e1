#include "actors/common/repository/schema.h"

#include <doctest/doctest.h>

#include "actors/common/repository/reader.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/sky_index.h"
#include "actors/common/repository/writer.h"

using namespace ebs;
using namespace ebs::repository;
using testing::TempDir;

namespace {

std::string layout(const Database& db) {
  std::string out;
  Statement s = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
  while (s.step()) out += std::string(s.text(0)) + " " + std::string(s.text(1)) + ": " + std::string(s.text(2)) + "\n";
  return out;
}

}  // namespace

TEST_CASE("a new database is created at the current version") {
  TempDir dir("repo-schema");
  Database db(dir.file("new.db"), Database::Mode::read_write);
  CHECK(schema_version(db) == 0);
  CHECK(migrate(db) == 0);
  CHECK(schema_version(db) == kSchemaVersion);
  CHECK(migrate(db) == kSchemaVersion);  // opening again changes nothing
  for (const char* table : kTables)
    CHECK(db.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table + "'") == 1);
}

TEST_CASE("opening a version 1 database migrates it and keeps its rows") {
  TempDir dir("repo-migrate");
  const std::string path = dir.file("v1.db");
  {
    Database db(path, Database::Mode::read_write);
    migrate(db, 1);
    REQUIRE(schema_version(db) == 1);
    db.execute(
        "INSERT INTO alerts(alert_id, object_id, survey, ra, dec, mjd_tai, band, mag) "
        "VALUES(42, 'ZTF20aaaaaaa', 'ztf', 150.25, 2.5, 59000.5, 'g', 18.1);"
        "INSERT INTO objects(object_id, survey, ra, dec, ndet, nalerts) VALUES('ZTF20aaaaaaa', 'ztf', 150.25, 2.5, 1, 1);"
        "INSERT INTO lightcurve(object_id, mjd_tai, band, kind, mag) VALUES('ZTF20aaaaaaa', 59000.5, 'g', 'detection', 18.1);");
  }
  { Writer writer(path); }  // the sink's writer migrates on open
  Database db(path, Database::Mode::read_only);
  CHECK(schema_version(db) == kSchemaVersion);
  CHECK(db.scalar("SELECT hpx FROM alerts WHERE alert_id = 42") == sky_pixel(150.25, 2.5));
  CHECK(db.scalar("SELECT hpx FROM objects") == sky_pixel(150.25, 2.5));
  CHECK(db.scalar("SELECT count(*) FROM lightcurve") == 1);

  // The migrated layout is exactly the layout of a new database.
  Database fresh(dir.file("fresh.db"), Database::Mode::read_write);
  migrate(fresh);
  CHECK(layout(db) == layout(fresh));

  // And the reader finds the old alert through the new sky index.
  Reader reader(path);
  auto hits = reader.cone(150.25, 2.5, 1.0, 10);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0]["alert_id"] == "42");
}

TEST_CASE("a database newer than this build is refused, and readers refuse old ones") {
  TempDir dir("repo-newer");
  const std::string path = dir.file("future.db");
  {
    Database db(path, Database::Mode::read_write);
    migrate(db);
    db.execute("INSERT INTO schema_version(version, applied_unix) VALUES(99, 0)");
  }
  CHECK_THROWS_WITH_AS(Writer{path}, doctest::Contains("newer than this ebs-flow"), Fault);

  const std::string old_path = dir.file("old.db");
  {
    Database db(old_path, Database::Mode::read_write);
    migrate(db, 1);
  }
  CHECK_THROWS_WITH_AS(Reader{old_path}, doctest::Contains("open it once with the repository sink"), Fault);
}

TEST_CASE("opening a version 2 database moves its coincidences to the table keyed by the other event too") {
  TempDir dir("repo-migrate-v2");
  const std::string path = dir.file("v2.db");
  {
    Database db(path, Database::Mode::read_write);
    migrate(db, 2);
    REQUIRE(schema_version(db) == 2);
    db.execute(
        "INSERT INTO coincidences(event_id, event_sequence, alert_id, object_id, status, searched_probability, terms) "
        "VALUES('S230518h', 1, 7, 'ZTF23aaa', 'active', 0.4, '[]'), "
        "('S230518h', 2, 7, 'ZTF23aaa', 'withdrawn', 0.95, '[]');");
  }
  { Writer writer(path); }
  Database db(path, Database::Mode::read_only);
  CHECK(schema_version(db) == kSchemaVersion);
  CHECK(db.scalar("SELECT count(*) FROM coincidences") == 2);
  CHECK(db.scalar("SELECT count(*) FROM coincidences WHERE other_event_id = '' AND other_event_sequence = 0 AND "
                  "object_id = 'ZTF23aaa' AND alert_id = 7") == 2);
  CHECK(db.scalar("SELECT count(*) FROM coincidences WHERE status = 'withdrawn' AND searched_probability = 0.95") == 1);
  Database fresh(dir.file("fresh.db"), Database::Mode::read_write);
  migrate(fresh);
  CHECK(layout(db) == layout(fresh));
}

TEST_CASE("opening a version 4 database gives its coincidences the alert as found, from the alerts table") {
  TempDir dir("repo-migrate-v4");
  const std::string path = dir.file("v4.db");
  {
    Database db(path, Database::Mode::read_write);
    migrate(db, 4);
    REQUIRE(schema_version(db) == 4);
    db.execute(
        "INSERT INTO alerts(alert_id, alert_key, object_id, survey, ra, dec, mjd_tai, band, mag) "
        "VALUES(7, '7', 'ZTF23aaa', 'ztf', 150.25, 2.5, 60083.5, 'g', 18.5);"
        "INSERT INTO coincidences(event_id, event_sequence, alert_id, object_id, status, terms) "
        "VALUES('S230518h', 1, 7, 'ZTF23aaa', 'active', '[]'), ('S230518h', 1, 8, 'ZTF23bbb', 'active', '[]');");
  }
  { Writer writer(path); }
  Database db(path, Database::Mode::read_only);
  CHECK(schema_version(db) == kSchemaVersion);
  CHECK(db.scalar("SELECT count(*) FROM coincidences WHERE alert_id = 7 AND alert_ra = 150.25 AND alert_dec = 2.5 "
                  "AND alert_mag = 18.5 AND alert_band = 'g' AND alert_mjd_tai = 60083.5") == 1);
  CHECK(db.scalar("SELECT count(*) FROM coincidences WHERE alert_id = 8 AND alert_ra IS NULL") == 1);  // not stored
  CHECK(db.scalar("SELECT count(*) FROM sky_event_mocs") == 0);
  Database fresh(dir.file("fresh.db"), Database::Mode::read_write);
  migrate(fresh);
  CHECK(layout(db) == layout(fresh));
}
