// Writes records into a repository database: alerts with their light-curve points and
// annotations, objects, sky events and coincidences, optionally cutouts into a file store.
//
// Writes happen inside explicit transactions (begin / commit / rollback): the sink decides when
// to commit and acknowledges only after. Every write is idempotent:
//   - alerts: unique on alert_id and on (survey, alert_key); the same alert again (same ids,
//     object, time, position, band) is a repeat that adds nothing but new annotations; a
//     different alert under an id already stored is a conflict (a dead letter), never a replace;
//   - light-curve points: unique on (object, time, band, kind); points an earlier alert of the
//     object already stored are skipped in memory (a per-object set of point keys loaded from
//     the database on first sight), so that each alert writes only its new points;
//   - annotations: appended, unique on (alert, fingerprint of content and provenance), never
//     updated;
//   - sky events on (event, sequence), with their 50 % and 90 % credible-region MOCs on
//     (event, sequence, level); coincidences on (event, sequence, alert, status).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/common/repository/rows.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/model/record.h"

namespace ebs::repository {

struct WriterOptions {
  int busy_timeout_ms = 10000;
  // fsync the WAL on every commit (PRAGMA synchronous=FULL): durable across power loss, not only
  // across a crash of the process.
  bool fsync = false;
  // Top-level raw fields not kept in alerts.raw: the light-curve table and the file store hold
  // them already.
  std::vector<std::string> raw_exclude = {"prv_candidates", "fp_hists", "prvDiaSources",
                                          "prvDiaForcedSources", "prvDiaNondetectionLimits",
                                          "cutoutScience", "cutoutTemplate", "cutoutDifference"};
  bool store_raw = true;
  // How alerts.raw holds the record: `compact`, a BLOB (raw_json.h append_raw_compact), read back
  // as the same JSON by raw_json(raw) and every
  // reader of the product; `json`, JSON text, for databases read by other tools (the sqlite3 CLI's
  // json_extract(raw, ...)). Both read the same (docs/repository.md).
  enum class RawFormat { compact, json } raw_format = RawFormat::compact;
  std::string cutouts_dir;  // empty: cutouts are not stored
  // The per-object points remembered to skip repeated history: bounded in objects and in bytes
  // (PointSet::memory_bytes); full, it starts over (docs/repository.md).
  size_t lightcurve_cache_objects = 200000;
  size_t lightcurve_cache_bytes = size_t{32} << 20;
  int64_t max_size_bytes = 0;  // a quota (PRAGMA max_page_count, whole pages); reaching it is a full disk
  // SQLite's page cache of the writing connection (PRAGMA cache_size): memory held for the life
  // of the sink, whatever the database's size. More keeps more index pages for the inserts.
  int64_t page_cache_bytes = int64_t{32} << 20;
  std::string actor = "repository";  // the sink's name in sink_progress
};

// What add() did with a record.
struct AddResult {
  // rejected: content that cannot be stored (a sky event whose map cannot be read); nothing written.
  enum class Outcome { stored, repeat, conflict, rejected } outcome = Outcome::stored;
  std::string reason;  // conflict: which stored alert holds the id; rejected: why
};

// An alert already stored under an id (alert_id, or survey + alert_key) that an insert was
// refused for: what the identity rule compares.
struct StoredIdentity {
  int64_t alert_id = 0;
  std::string survey, alert_key, object_id, band;
  double mjd_tai = 0, ra = 0, dec = 0;
};

// The one identity rule of every repository (SQLite and PostgreSQL writers alike): the same
// alert again (same ids, object, time, position, band) is a repeat (an idempotent skip, counted
// as filtered); any other alert under its id is a conflict (a dead letter), never a replace.
// `stored` empty: the insert was refused, yet nothing holds the id (a conflict that says so).
AddResult identity_outcome(const AlertCore& alert, const StoredIdentity* stored);
// The alert_key a repository stores: the survey's own id, or the decimal alert_id.
std::string stored_alert_key(const AlertCore& alert);

struct WriteCounts {
  uint64_t alerts = 0, alerts_duplicate = 0, lightcurve_points = 0, annotations = 0, sky_events = 0,
           coincidences = 0, cutouts = 0;
};

class Writer {
 public:
  // Opens (creating and migrating) the database at `path`.
  Writer(const std::string& path, WriterOptions options = {});
  ~Writer();
  Writer(const Writer&) = delete;  // statements point at the connection member
  Writer& operator=(const Writer&) = delete;

  // Faults a record would raise on write (missing ids, non-finite coordinates), checked before
  // anything is written so that a bad record never half-lands.
  static void validate(const Record& record, std::string_view place);

  void begin();
  bool in_transaction() const { return transaction_ != nullptr; }
  // Writes one record (Alert, SkyEvent, Coincidence; others raise a Fault) in the open
  // transaction. A conflicting alert writes nothing.
  AddResult add(const Record& record);
  // Commits and records sink progress (`records` written since the last commit).
  void commit(uint64_t records, uint64_t alerts);
  void rollback();

  const WriteCounts& counts() const { return counts_; }
  // What the light-curve cache holds now (at most lightcurve_cache_bytes plus one object).
  size_t lightcurve_cache_bytes() const { return points_cache_bytes_; }
  const Database& database() const { return db_; }

 private:
  AddResult add_alert(const Alert& alert);
  // After an ignored insert: the same alert again, or another under its id.
  AddResult stored_identity(const AlertCore& core);
  void add_annotations(const Alert& alert);
  AddResult add_sky_event(const SkyEvent& event);
  void add_coincidence(const Coincidence& coincidence);
  void add_cutouts(const AlertCore& core);
  PointSet& known_points(const std::string& object_id);
  // Queues the point for insert_points() unless known (and marks it known).
  void queue_point(PointSet& known, const Photometry& point);
  // Inserts the queued points of one alert, kPointRowsPerInsert rows a statement; returns how
  // many rows were written (a point already stored is ignored, as by a single insert).
  int64_t insert_points(const AlertCore& core, const std::vector<const Photometry*>& points);
  // alerts.raw of the alert as raw_format says (empty: none), in raw_bytes_.
  std::string_view stored_raw(const AlertCore& core);

  WriterOptions options_;
  Database db_;
  std::unique_ptr<Transaction> transaction_;
  Statement insert_alert_, select_identity_, upsert_object_, select_points_, insert_event_, insert_moc_,
      insert_coincidence_, insert_cutout_, upsert_progress_;
  // An alert's new light-curve points in statements of up to n rows (insert_points_[n - 1]),
  // detections apart from the rest (the object's ndet counts the detections written): the first
  // alert of an object brings its whole history, ~40 points in ZTF, one execution per 16.
  static constexpr size_t kPointRowsPerInsert = 16;
  std::vector<Statement> insert_points_;
  std::vector<const Photometry*> new_detections_, new_other_points_;  // reused per alert
  // An alert's annotations in one statement of n rows (insert_annotations_[n - 1]): one
  // execution, its cursors on the table and two indexes opened once, instead of one per row.
  static constexpr size_t kAnnotationRowsPerInsert = 8;
  std::vector<Statement> insert_annotations_;
  std::unordered_map<std::string, PointSet> points_by_object_;
  size_t points_cache_bytes_ = 0;  // what points_by_object_ holds (PointSet::memory_bytes)
  std::unordered_set<std::string_view> raw_exclude_;
  std::string raw_bytes_;
  WriteCounts counts_;
  double last_commit_seconds_ = 0;
  double transaction_started_ = 0;
};

// Where a sky event's map goes in the file store (under `cutouts_dir`), beside the cutouts:
// "skymaps/<event id>-<sequence>.fits" (characters other than letters, digits, '-' and '.' as '_').
std::string skymap_store_name(const std::string& event_id, int64_t sequence);

}  // namespace ebs::repository
