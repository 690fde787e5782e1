// The repository's tables and their migrations. A database records its layout version in
// `schema_version`; opening an older database applies the missing migrations in order, each in
// its own transaction. A new database is built the same way, from version 0, so that a migrated
// database and a fresh one have exactly the same layout.
//
// Version 1: objects, alerts, light curves, annotations with provenance.
// Version 2: the sky index column `hpx` on alerts and objects (filled for existing rows), sky
//            events, coincidences, cutouts (file store) and sink progress (for /metrics).
// Version 3: coincidences of two sky events (other_event_id, other_event_sequence; '' and 0 for
//            alert coincidences), the other event in the table's key.
// Version 4: alerts.alert_key, the survey's own id as text (the decimal id for existing rows),
//            unique per survey.
// Version 5: coincidences.alert_ra, alert_dec, alert_mag, alert_band, alert_mjd_tai (the alert as
//            found; filled from alerts for existing rows); sky_event_mocs, the 50 % and 90 %
//            credible regions of each sky event's map as MOC 2.0 JSON.
// Version 6: no index on annotations.object_id (an object's annotations are found through its
//            alerts: fewer b-tree writes per annotation).
//
// Only portable SQL types are used (INTEGER, REAL, TEXT); a PostgreSQL backend implements the same
// tables (`WITHOUT ROWID` is SQLite's clustering of a primary key, a plain table elsewhere).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "actors/common/sqlite/sqlite_db.h"

namespace ebs::repository {

inline constexpr int kSchemaVersion = 6;
// The oldest layout readers (query, serve, sql-filter, model training) open as it is: they never
// migrate, and version 6 only dropped an index, so nothing they read differs from version 5.
inline constexpr int kOldestReadableSchemaVersion = 5;
inline constexpr bool readable_schema_version(int version) {
  return version >= kOldestReadableSchemaVersion && version <= kSchemaVersion;
}

// The layout version of an open database (0 for an empty one).
int schema_version(const Database& db);

inline constexpr const char* kSchemaVersionTable =
    "CREATE TABLE schema_version(version INTEGER NOT NULL, applied_unix REAL NOT NULL)";

// Brings `db` to `target` (default: the current version); returns the version it started at.
// A database newer than this build is refused.
int migrate(const Database& db, int target = kSchemaVersion);

// The migrations as SQL text, in SQLite's dialect; other backends (actors/sinks/postgres) derive
// theirs from it, so that every backend has the same tables. A migration runs `sql`, then fills
// the HEALPix column `hpx` from ra/dec for each (table, key) of `pixel_fills` (a data step SQL
// cannot do), then runs `after_fill` (indexes on the filled column: building them once is cheaper).
struct MigrationScript {
  int version;
  const char* sql;
  std::vector<std::pair<std::string, std::string>> pixel_fills;
  const char* after_fill;
};
const std::vector<MigrationScript>& migration_scripts();

// The tables a repository holds, in dependency order (for counts, archives and /metrics).
inline constexpr const char* kTables[] = {"objects",      "alerts",         "lightcurve", "annotations",
                                          "sky_events",   "sky_event_mocs", "coincidences", "cutouts"};

}  // namespace ebs::repository
