#include "actors/common/repository/schema.h"

#include <vector>

#include "actors/common/repository/sky_index.h"

namespace ebs::repository {

namespace {

constexpr const char* kVersion1 = R"sql(
CREATE TABLE objects(
  object_id TEXT PRIMARY KEY,
  survey TEXT,
  ra REAL,
  dec REAL,
  first_mjd_tai REAL,
  last_mjd_tai REAL,
  ndet INTEGER NOT NULL DEFAULT 0,
  nalerts INTEGER NOT NULL DEFAULT 0,
  last_alert_id INTEGER,
  last_mag REAL,
  last_band TEXT);
CREATE TABLE alerts(
  alert_id INTEGER PRIMARY KEY,
  object_id TEXT NOT NULL,
  survey TEXT NOT NULL,
  schema_version TEXT,
  ra REAL NOT NULL,
  dec REAL NOT NULL,
  mjd_tai REAL NOT NULL,
  band TEXT,
  mag REAL,
  mag_err REAL,
  flux REAL,
  flux_err REAL,
  is_diff_pos INTEGER,
  real_bogus REAL,
  raw TEXT);
CREATE INDEX alerts_object ON alerts(object_id, mjd_tai);
CREATE TABLE lightcurve(
  object_id TEXT NOT NULL,
  mjd_tai REAL NOT NULL,
  band TEXT NOT NULL,
  kind TEXT NOT NULL,
  mag REAL,
  mag_err REAL,
  flux REAL,
  flux_err REAL,
  limit_mag REAL,
  is_diff_pos INTEGER,
  alert_id INTEGER,
  PRIMARY KEY(object_id, mjd_tai, band, kind)) WITHOUT ROWID;
CREATE TABLE annotations(
  annotation_id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL,
  object_id TEXT NOT NULL,
  mjd_tai REAL,
  kind TEXT NOT NULL,
  name TEXT,
  value REAL,
  catalogue TEXT,
  source_id TEXT,
  separation_arcsec REAL,
  object_type TEXT,
  redshift REAL,
  details TEXT,
  actor TEXT,
  actor_type TEXT,
  version TEXT,
  config_hash TEXT,
  fingerprint TEXT NOT NULL,
  UNIQUE(alert_id, fingerprint));
CREATE INDEX annotations_kind_name ON annotations(kind, name, mjd_tai);
CREATE INDEX annotations_object ON annotations(object_id);
)sql";

constexpr const char* kVersion2 = R"sql(
ALTER TABLE alerts ADD COLUMN hpx INTEGER;
ALTER TABLE objects ADD COLUMN hpx INTEGER;
CREATE TABLE sky_events(
  event_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  source TEXT,
  kind TEXT,
  alert_type TEXT,
  mjd_tai REAL,
  shape TEXT,
  ra REAL,
  dec REAL,
  radius_deg REAL,
  semi_major_deg REAL,
  semi_minor_deg REAL,
  position_angle_deg REAL,
  containment_probability REAL,
  skymap_url TEXT,
  skymap_version TEXT,
  skymap_bytes INTEGER,
  far_hz REAL,
  significance REAL,
  significant INTEGER,
  test INTEGER,
  retracted INTEGER,
  notice TEXT,
  PRIMARY KEY(event_id, sequence));
CREATE TABLE coincidences(
  event_id TEXT NOT NULL,
  event_sequence INTEGER NOT NULL,
  alert_id INTEGER NOT NULL,
  object_id TEXT,
  status TEXT NOT NULL,
  time_difference_s REAL,
  searched_probability REAL,
  false_alarm_rate REAL,
  terms TEXT,
  PRIMARY KEY(event_id, event_sequence, alert_id, status));
CREATE INDEX coincidences_object ON coincidences(object_id);
CREATE TABLE cutouts(
  alert_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  format TEXT,
  bytes INTEGER,
  path TEXT,
  PRIMARY KEY(alert_id, kind));
CREATE TABLE sink_progress(
  actor TEXT PRIMARY KEY,
  records INTEGER NOT NULL DEFAULT 0,
  alerts INTEGER NOT NULL DEFAULT 0,
  commits INTEGER NOT NULL DEFAULT 0,
  busy_seconds REAL NOT NULL DEFAULT 0,
  records_per_second REAL,
  last_commit_unix REAL);
)sql";

// Indexes on the filled column come after the fill: building them once is cheaper.
constexpr const char* kVersion2Indexes = R"sql(
CREATE INDEX alerts_hpx ON alerts(hpx);
CREATE INDEX objects_hpx ON objects(hpx);
)sql";

// Pairs of sky events (a GW with a GRB or neutrino) have alert_id 0 and differ only by the other
// event: it joins the key. SQLite cannot change a primary key, so the table is rebuilt.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE coincidences_v3(
  event_id TEXT NOT NULL,
  event_sequence INTEGER NOT NULL,
  alert_id INTEGER NOT NULL,
  object_id TEXT,
  other_event_id TEXT NOT NULL DEFAULT '',
  other_event_sequence INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  time_difference_s REAL,
  searched_probability REAL,
  false_alarm_rate REAL,
  terms TEXT,
  PRIMARY KEY(event_id, event_sequence, alert_id, other_event_id, status));
INSERT INTO coincidences_v3(event_id, event_sequence, alert_id, object_id, status, time_difference_s,
  searched_probability, false_alarm_rate, terms)
  SELECT event_id, event_sequence, alert_id, object_id, status, time_difference_s, searched_probability,
  false_alarm_rate, terms FROM coincidences;
DROP TABLE coincidences;
ALTER TABLE coincidences_v3 RENAME TO coincidences;
CREATE INDEX coincidences_object ON coincidences(object_id);
CREATE INDEX coincidences_other_event ON coincidences(other_event_id);
)sql";

// Alert identity (engine/model/alert_identity.h): the survey's own id as text, unique per survey.
// Existing rows had integer ids: their key is the id's decimal text.
constexpr const char* kVersion4 = R"sql(
ALTER TABLE alerts ADD COLUMN alert_key TEXT;
UPDATE alerts SET alert_key = CAST(alert_id AS TEXT);
CREATE UNIQUE INDEX alerts_identity ON alerts(survey, alert_key);
)sql";

// Coincidences carry the alert as it was found (position, magnitude, band, time), filled for
// existing rows from the alerts table; sky events keep their credible regions as MOC 2.0 JSON.
constexpr const char* kVersion5 = R"sql(
ALTER TABLE coincidences ADD COLUMN alert_ra REAL;
ALTER TABLE coincidences ADD COLUMN alert_dec REAL;
ALTER TABLE coincidences ADD COLUMN alert_mag REAL;
ALTER TABLE coincidences ADD COLUMN alert_band TEXT;
ALTER TABLE coincidences ADD COLUMN alert_mjd_tai REAL;
UPDATE coincidences SET
  alert_ra = (SELECT a.ra FROM alerts a WHERE a.alert_id = coincidences.alert_id),
  alert_dec = (SELECT a.dec FROM alerts a WHERE a.alert_id = coincidences.alert_id),
  alert_mag = (SELECT a.mag FROM alerts a WHERE a.alert_id = coincidences.alert_id),
  alert_band = (SELECT a.band FROM alerts a WHERE a.alert_id = coincidences.alert_id),
  alert_mjd_tai = (SELECT a.mjd_tai FROM alerts a WHERE a.alert_id = coincidences.alert_id)
  WHERE alert_id != 0;
CREATE TABLE sky_event_mocs(
  event_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  level REAL NOT NULL,
  max_order INTEGER NOT NULL,
  area_deg2 REAL NOT NULL,
  cells INTEGER NOT NULL,
  moc TEXT NOT NULL,
  PRIMARY KEY(event_id, sequence, level));
)sql";

// An object's annotations are found through its alerts (alerts_object, then the annotations'
// unique (alert_id, fingerprint) index): an index of annotations.object_id cost each annotation
// an insert at a random place of one more b-tree (a quarter of the annotations' index writes and
// a sixth of a reference run's WAL frames) for the one query of the object page.
constexpr const char* kVersion6 = R"sql(
DROP INDEX annotations_object;
)sql";

void fill_pixels(const Database& db, const std::string& table, const std::string& key) {
  // Read first, then update: changing rows under a running SELECT of the same table is undefined.
  struct Row {
    std::string key;
    int64_t pixel;
  };
  std::vector<Row> rows;
  Statement select = db.prepare("SELECT " + key + ", ra, dec FROM " + table +
                                " WHERE hpx IS NULL AND ra IS NOT NULL AND dec IS NOT NULL");
  while (select.step()) rows.push_back({std::string(select.text(0)), sky_pixel(select.number(1), select.number(2))});
  Statement update = db.prepare("UPDATE " + table + " SET hpx = ?1 WHERE " + key + " = ?2");
  for (const Row& r : rows) {
    update.bind(1, r.pixel);
    if (key == "alert_id") update.bind(2, static_cast<int64_t>(std::stoll(r.key)));
    else update.bind(2, r.key);
    update.run();
  }
}

}  // namespace

const std::vector<MigrationScript>& migration_scripts() {
  static const std::vector<MigrationScript> all = {
      {1, kVersion1, {}, ""},
      {2, kVersion2, {{"alerts", "alert_id"}, {"objects", "object_id"}}, kVersion2Indexes},
      {3, kVersion3, {}, ""},
      {4, kVersion4, {}, ""},
      {5, kVersion5, {}, ""},
      {6, kVersion6, {}, ""},
  };
  return all;
}

int schema_version(const Database& db) {
  if (db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") == 0)
    return 0;
  return static_cast<int>(db.scalar("SELECT max(version) FROM schema_version", 0));
}

int migrate(const Database& db, int target) {
  Transaction check(db);  // one writer decides: two sinks opening a new file do not both create it
  int start = schema_version(db);
  if (start > kSchemaVersion)
    throw SqliteError(db.path(),
                      "schema version " + std::to_string(start) + " is newer than this ebs-flow (" +
                          std::to_string(kSchemaVersion) + "): upgrade ebs-flow",
                      SQLITE_ERROR);
  if (start == 0)
    db.execute(kSchemaVersionTable);
  for (const MigrationScript& m : migration_scripts()) {
    if (m.version <= start || m.version > target) continue;
    db.execute(m.sql);
    for (const auto& [table, key] : m.pixel_fills) fill_pixels(db, table, key);
    if (*m.after_fill) db.execute(m.after_fill);
    Statement record = db.prepare("INSERT INTO schema_version(version, applied_unix) VALUES(?1, unixepoch('now'))");
    record.bind(1, static_cast<int64_t>(m.version));
    record.run();
  }
  check.commit();
  return start;
}

}  // namespace ebs::repository
