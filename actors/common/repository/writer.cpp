#include "actors/common/repository/writer.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/rows.h"
#include "actors/common/repository/schema.h"
#include "actors/common/repository/sky_index.h"
#include "actors/common/sqlite/wal_gathering_vfs.h"

namespace ebs::repository {

namespace {

// The annotations table's columns that an insert binds (annotation_id is the row id).
constexpr int kAnnotationColumns = 17;
// The lightcurve table's columns.
constexpr int kPointColumns = 11;

// "<head> VALUES(?1,...,?c),(?c+1,...),..." for `rows` rows of `columns` parameters each.
std::string multi_row_values(std::string head, int columns, size_t rows) {
  head += " VALUES";
  for (size_t row = 0; row < rows; ++row) {
    head += row ? ",(" : "(";
    for (int column = 1; column <= columns; ++column)
      head += (column > 1 ? ",?" : "?") + std::to_string(row * static_cast<size_t>(columns) + column);
    head += ")";
  }
  return head;
}

// A file of the store, written once: to FILE.partial, then renamed (a crash leaves no half file
// under the real name; a replay finds the file and reuses it).
void write_store_file(const std::filesystem::path& file, std::string_view bytes, const char* what) {
  if (std::filesystem::exists(file)) return;
  std::filesystem::path partial = file;
  partial += ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail(file.string(), std::string("cannot write the ") + what + ": " + std::strerror(errno));
  }
  std::filesystem::rename(partial, file);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

const char* kind_name(SkyEvent::Kind kind) { return to_string(kind).data(); }

}  // namespace

Writer::Writer(const std::string& path, WriterOptions options)
    : options_(std::move(options)),
      // One write call per run of WAL frames, not two per frame (sqlite/wal_gathering_vfs.h).
      db_(path, Database::Mode::read_write, options_.busy_timeout_ms, sqlite::wal_gathering_vfs()) {
  for (const std::string& f : options_.raw_exclude) raw_exclude_.insert(f);  // views into options_
  register_raw_json(db_.get());
  db_.execute("PRAGMA journal_mode=WAL");
  db_.execute(options_.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  db_.execute("PRAGMA cache_size=-" + std::to_string(std::max<int64_t>(1, options_.page_cache_bytes >> 10)));  // KiB
  // A longer WAL between checkpoints: index pages that many commits touch are copied into the
  // database once per checkpoint instead of once per few commits.
  db_.execute("PRAGMA wal_autocheckpoint=16384");
  migrate(db_);
  if (options_.max_size_bytes > 0) {
    int64_t page_size = db_.scalar("PRAGMA page_size", 4096);
    db_.execute("PRAGMA max_page_count=" + std::to_string(std::max<int64_t>(1, options_.max_size_bytes / page_size)));
  }
  if (!options_.cutouts_dir.empty()) std::filesystem::create_directories(options_.cutouts_dir);

  insert_alert_ = db_.prepare(
      "INSERT OR IGNORE INTO alerts(alert_id, object_id, survey, schema_version, ra, dec, hpx, mjd_tai, band, "
      "mag, mag_err, flux, flux_err, is_diff_pos, real_bogus, raw, alert_key) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
  select_identity_ = db_.prepare(
      "SELECT alert_id, survey, alert_key, object_id, mjd_tai, ra, dec, band FROM alerts "
      "WHERE alert_id = ?1 OR (survey = ?2 AND alert_key = ?3) LIMIT 1");
  // Every SET expression reads the row as it was: the latest alert gives the position and the
  // last magnitude, whatever the order alerts arrive in.
  upsert_object_ = db_.prepare(
      "INSERT INTO objects(object_id, survey, ra, dec, hpx, first_mjd_tai, last_mjd_tai, ndet, nalerts, "
      "last_alert_id, last_mag, last_band) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?11) "
      "ON CONFLICT(object_id) DO UPDATE SET "
      "ndet = ndet + excluded.ndet, nalerts = nalerts + 1, "
      "first_mjd_tai = min(first_mjd_tai, excluded.first_mjd_tai), "
      "ra = CASE WHEN excluded.last_mjd_tai >= last_mjd_tai THEN excluded.ra ELSE ra END, "
      "dec = CASE WHEN excluded.last_mjd_tai >= last_mjd_tai THEN excluded.dec ELSE dec END, "
      "hpx = CASE WHEN excluded.last_mjd_tai >= last_mjd_tai THEN excluded.hpx ELSE hpx END, "
      "last_alert_id = CASE WHEN excluded.last_mjd_tai >= last_mjd_tai THEN excluded.last_alert_id "
      "ELSE last_alert_id END, "
      "last_mag = CASE WHEN excluded.last_mjd_tai >= last_mjd_tai THEN excluded.last_mag ELSE last_mag END, "
      "last_band = CASE WHEN excluded.last_mjd_tai >= last_mjd_tai THEN excluded.last_band ELSE last_band END, "
      "last_mjd_tai = max(last_mjd_tai, excluded.last_mjd_tai)");
  for (size_t rows = 1; rows <= kPointRowsPerInsert; ++rows) {
    insert_points_.push_back(db_.prepare(multi_row_values(
        "INSERT OR IGNORE INTO lightcurve(object_id, mjd_tai, band, kind, mag, mag_err, flux, flux_err, limit_mag, "
        "is_diff_pos, alert_id)",
        kPointColumns, rows)));
  }
  select_points_ = db_.prepare("SELECT mjd_tai, band, kind FROM lightcurve WHERE object_id = ?1");
  for (size_t rows = 1; rows <= kAnnotationRowsPerInsert; ++rows) {
    insert_annotations_.push_back(db_.prepare(multi_row_values(
        "INSERT OR IGNORE INTO annotations(alert_id, object_id, mjd_tai, kind, name, value, catalogue, source_id, "
        "separation_arcsec, object_type, redshift, details, actor, actor_type, version, config_hash, fingerprint)",
        kAnnotationColumns, rows)));
  }
  insert_event_ = db_.prepare(
      "INSERT OR IGNORE INTO sky_events(event_id, sequence, source, kind, alert_type, mjd_tai, shape, ra, dec, "
      "radius_deg, semi_major_deg, semi_minor_deg, position_angle_deg, containment_probability, skymap_url, "
      "skymap_version, skymap_bytes, far_hz, significance, significant, test, retracted, notice) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
      "?22, ?23)");
  insert_moc_ = db_.prepare(
      "INSERT OR IGNORE INTO sky_event_mocs(event_id, sequence, level, max_order, area_deg2, cells, moc) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert_coincidence_ = db_.prepare(
      "INSERT OR IGNORE INTO coincidences(event_id, event_sequence, alert_id, object_id, status, "
      "time_difference_s, searched_probability, false_alarm_rate, terms, other_event_id, other_event_sequence, "
      "alert_ra, alert_dec, alert_mag, alert_band, alert_mjd_tai) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  insert_cutout_ = db_.prepare(
      "INSERT OR IGNORE INTO cutouts(alert_id, kind, format, bytes, path) VALUES(?1, ?2, ?3, ?4, ?5)");
  upsert_progress_ = db_.prepare(
      "INSERT INTO sink_progress(actor, records, alerts, commits, busy_seconds, records_per_second, "
      "last_commit_unix) VALUES(?1, ?2, ?3, 1, ?4, ?5, ?6) ON CONFLICT(actor) DO UPDATE SET "
      "records = records + excluded.records, alerts = alerts + excluded.alerts, commits = commits + 1, "
      "busy_seconds = busy_seconds + excluded.busy_seconds, records_per_second = excluded.records_per_second, "
      "last_commit_unix = excluded.last_commit_unix");
  last_commit_seconds_ = steady_seconds();
}

Writer::~Writer() {
  transaction_.reset();  // rolls back what was not committed
}

void Writer::validate(const Record& record, std::string_view place) {
  auto bad = [&](const std::string& message) { fail(std::string(place), message); };
  switch (record.type()) {
    case PortType::alert: {
      const AlertCore& c = static_cast<const Alert&>(record).core();
      // 0 is "no id" unless the survey's own id says 0 (TURBO's first alert).
      if (c.alert_id == 0 && c.alert_key.empty()) bad("alert without an alert_id");
      if (c.object_id.empty()) bad("alert " + std::to_string(c.alert_id) + " without an object_id");
      if (!std::isfinite(c.ra) || !std::isfinite(c.dec) || c.dec < -90 || c.dec > 90)
        bad("alert " + std::to_string(c.alert_id) + " has no valid position (ra " + std::to_string(c.ra) +
            ", dec " + std::to_string(c.dec) + ")");
      if (!std::isfinite(c.mjd_tai)) bad("alert " + std::to_string(c.alert_id) + " has no time");
      return;
    }
    case PortType::sky_event:
      if (static_cast<const SkyEvent&>(record).event_id.empty()) bad("sky event without an event_id");
      return;
    case PortType::coincidence: {
      const auto& co = static_cast<const Coincidence&>(record);
      if (co.event_id.empty()) bad("coincidence without an event_id");
      // Either an alert in an event's region or a pair of sky events, never both nor neither.
      if ((co.alert_id == 0) == co.other_event_id.empty())
        bad("coincidence of " + co.event_id + " needs exactly one of an alert_id or an other_event_id");
      return;
    }
    default:
      bad("the repository stores Alerts, SkyEvents and Coincidences, not " + std::string(to_string(record.type())));
  }
}

void Writer::begin() {
  if (transaction_) return;
  transaction_ = std::make_unique<Transaction>(db_);
  transaction_started_ = steady_seconds();
}

AddResult Writer::add(const Record& record) {
  switch (record.type()) {
    case PortType::alert: {
      const auto& alert = static_cast<const Alert&>(record);
      AddResult result = add_alert(alert);
      if (result.outcome != AddResult::Outcome::conflict) add_annotations(alert);
      return result;
    }
    case PortType::sky_event: return add_sky_event(static_cast<const SkyEvent&>(record));
    case PortType::coincidence: add_coincidence(static_cast<const Coincidence&>(record)); return {};
    default: validate(record, db_.path());
  }
  return {};
}

std::string stored_alert_key(const AlertCore& c) { return c.alert_key.empty() ? std::to_string(c.alert_id) : c.alert_key; }

AddResult identity_outcome(const AlertCore& c, const StoredIdentity* stored) {
  const std::string key = stored_alert_key(c);
  AddResult result;
  result.outcome = AddResult::Outcome::conflict;
  if (!stored) {
    result.reason = "alert " + key + " was not stored and no stored alert holds its id";
    return result;
  }
  const StoredIdentity& s = *stored;
  if (s.alert_id == c.alert_id && s.survey == c.survey && s.alert_key == key && s.object_id == c.object_id &&
      s.mjd_tai == c.mjd_tai && s.ra == c.ra && s.dec == c.dec && s.band == c.band) {
    result.outcome = AddResult::Outcome::repeat;
    return result;
  }
  result.reason = "a different alert under an existing id: " + c.survey + " alert " + key + " (alert_id " +
                  std::to_string(c.alert_id) + ", " + c.object_id + ") meets the stored " + s.survey + " alert " +
                  s.alert_key + " (alert_id " + std::to_string(s.alert_id) + ", " + s.object_id + ", mjd_tai " +
                  std::to_string(s.mjd_tai) + ")";
  return result;
}

AddResult Writer::stored_identity(const AlertCore& c) {
  select_identity_.bind(1, c.alert_id).bind(2, c.survey).bind(3, stored_alert_key(c));
  std::optional<StoredIdentity> stored;
  if (select_identity_.step()) {
    stored = StoredIdentity{select_identity_.integer(0),          std::string(select_identity_.text(1)),
                            std::string(select_identity_.text(2)), std::string(select_identity_.text(3)),
                            std::string(select_identity_.text(7)), select_identity_.number(4),
                            select_identity_.number(5),            select_identity_.number(6)};
  }
  select_identity_.reset();
  return identity_outcome(c, stored ? &*stored : nullptr);
}

void Writer::commit(uint64_t records, uint64_t alerts) {
  if (!transaction_) return;
  double now = steady_seconds();
  double since_last = std::max(now - last_commit_seconds_, 1e-6);
  upsert_progress_.bind(1, options_.actor)
      .bind(2, static_cast<int64_t>(records))
      .bind(3, static_cast<int64_t>(alerts))
      .bind(4, now - transaction_started_)
      .bind(5, static_cast<double>(records) / since_last)
      .bind(6, unix_now());
  upsert_progress_.run();
  transaction_->commit();
  transaction_.reset();
  last_commit_seconds_ = now;
}

void Writer::rollback() {
  transaction_.reset();
  // The cache may name points that were rolled back: forget it, the database is the truth.
  points_by_object_.clear();
  points_cache_bytes_ = 0;
}

std::string_view Writer::stored_raw(const AlertCore& core) {
  raw_bytes_.clear();
  if (!options_.store_raw || core.raw.empty()) return {};
  if (options_.raw_format == WriterOptions::RawFormat::json) append_raw_json(raw_bytes_, core.raw.root(), raw_exclude_);
  else append_raw_compact(raw_bytes_, core.raw.root(), raw_exclude_);
  return raw_bytes_;
}

PointSet& Writer::known_points(const std::string& object_id) {
  auto it = points_by_object_.find(object_id);
  if (it != points_by_object_.end()) return it->second;
  if (points_by_object_.size() >= options_.lightcurve_cache_objects ||
      points_cache_bytes_ >= options_.lightcurve_cache_bytes) {
    points_by_object_.clear();
    points_cache_bytes_ = 0;
  }
  PointSet& set = points_by_object_[object_id];
  select_points_.bind(1, object_id);
  while (select_points_.step()) {
    set.insert({select_points_.number(0), photometry_kind(select_points_.text(2)),
                std::string(select_points_.text(1))});
  }
  select_points_.reset();
  points_cache_bytes_ += PointSet::entry_bytes(object_id) + set.memory_bytes();
  return set;
}

void Writer::queue_point(PointSet& known, const Photometry& p) {
  if (!std::isfinite(p.mjd_tai)) return;
  PointKey key{p.mjd_tai, p.kind, p.band};
  if (known.contains(key)) return;  // most points of an alert: its history, stored before
  // Marked known now: a second point of the alert within kSamePointSeconds is not queued again.
  const size_t before = known.memory_bytes();
  known.insert(std::move(key));
  points_cache_bytes_ += known.memory_bytes() - before;
  (p.kind == Photometry::Kind::detection ? new_detections_ : new_other_points_).push_back(&p);
}

int64_t Writer::insert_points(const AlertCore& core, const std::vector<const Photometry*>& points) {
  int64_t inserted = 0;
  for (size_t from = 0; from < points.size(); from += kPointRowsPerInsert) {
    const size_t rows = std::min(kPointRowsPerInsert, points.size() - from);
    Statement& insert = insert_points_[rows - 1];
    for (size_t row = 0; row < rows; ++row) {
      const Photometry& p = *points[from + row];
      const int at = static_cast<int>(row) * kPointColumns;  // this row's parameters: at + 1 ...
      insert.bind_view(at + 1, core.object_id)
          .bind(at + 2, p.mjd_tai)
          .bind_view(at + 3, p.band)
          .bind_view(at + 4, to_string(p.kind))
          .bind(at + 5, p.mag)
          .bind(at + 6, p.mag_err)
          .bind(at + 7, p.flux)
          .bind(at + 8, p.flux_err)
          .bind(at + 9, p.limit_mag)
          .bind(at + 10, static_cast<int64_t>(p.is_diff_pos))
          .bind(at + 11, static_cast<int64_t>(core.alert_id));
    }
    inserted += insert.run();
  }
  counts_.lightcurve_points += static_cast<uint64_t>(inserted);
  return inserted;
}

AddResult Writer::add_alert(const Alert& alert) {
  const AlertCore& c = alert.core();
  validate(alert, db_.path());
  const int64_t pixel = sky_pixel(c.ra, c.dec);
  // Texts are bound as views (no copy each): they live until run() below.
  const std::string key = stored_alert_key(c);
  insert_alert_.bind(1, c.alert_id)
      .bind_view(2, c.object_id)
      .bind_view(3, c.survey)
      .bind_view(4, c.schema_version)
      .bind(5, c.ra)
      .bind(6, c.dec)
      .bind(7, pixel)
      .bind(8, c.mjd_tai)
      .bind_view(9, c.band)
      .bind(10, c.mag)
      .bind(11, c.mag_err)
      .bind(12, c.flux)
      .bind(13, c.flux_err)
      .bind(14, static_cast<int64_t>(c.is_diff_pos));
  insert_alert_.bind(15, c.real_bogus);
  std::string_view raw = stored_raw(c);
  if (raw.empty()) insert_alert_.bind_null(16);
  else if (options_.raw_format == WriterOptions::RawFormat::json) insert_alert_.bind_view(16, raw);
  else insert_alert_.bind_blob_view(16, raw);
  insert_alert_.bind_view(17, key);
  if (insert_alert_.run() == 0) {
    AddResult result = stored_identity(c);
    // A repeat: its points and object row were written with it.
    if (result.outcome == AddResult::Outcome::repeat) ++counts_.alerts_duplicate;
    return result;
  }
  ++counts_.alerts;

  // The alert's own detection, then its history: only points no earlier alert brought.
  PointSet& known = known_points(c.object_id);
  new_detections_.clear();
  new_other_points_.clear();
  const Photometry own = own_detection(c);  // lives until its insert below
  queue_point(known, own);
  double first = c.mjd_tai;
  for (const Photometry& p : c.history) {
    queue_point(known, p);
    if (p.kind == Photometry::Kind::detection && std::isfinite(p.mjd_tai)) first = std::min(first, p.mjd_tai);
  }
  int64_t new_detections = 0;
  try {
    new_detections = insert_points(c, new_detections_);
    insert_points(c, new_other_points_);
  } catch (...) {
    // The cache names the queued points already: forget it, the database is the truth.
    points_by_object_.clear();
    points_cache_bytes_ = 0;
    new_detections_.clear();
    new_other_points_.clear();
    throw;
  }
  new_detections_.clear();  // they point into this alert
  new_other_points_.clear();
  upsert_object_.bind_view(1, c.object_id)
      .bind_view(2, c.survey)
      .bind(3, c.ra)
      .bind(4, c.dec)
      .bind(5, pixel)
      .bind(6, first)
      .bind(7, c.mjd_tai)
      .bind(8, new_detections)
      .bind(9, c.alert_id)
      .bind(10, c.mag)
      .bind_view(11, c.band);
  upsert_object_.run();
  if (!options_.cutouts_dir.empty()) add_cutouts(c);
  return {};
}

void Writer::add_annotations(const Alert& alert) {
  const AlertCore& c = alert.core();
  const std::vector<const Annotation*> annotations = alert.annotations().list();
  // Texts are bound as views (no copy each): the annotations and the fingerprints outlive run().
  std::array<AnnotationFingerprint, kAnnotationRowsPerInsert> fingerprints;
  for (size_t from = 0; from < annotations.size(); from += kAnnotationRowsPerInsert) {
    const size_t rows = std::min(kAnnotationRowsPerInsert, annotations.size() - from);
    Statement& insert = insert_annotations_[rows - 1];
    for (size_t row = 0; row < rows; ++row) {
      const Annotation* a = annotations[from + row];
      const int at = static_cast<int>(row) * kAnnotationColumns;  // this row's parameters: at + 1 ...
      fingerprints[row] = annotation_fingerprint_text(*a);
      insert.bind(at + 1, c.alert_id)
          .bind_view(at + 2, c.object_id)
          .bind(at + 3, c.mjd_tai)
          .bind_view(at + 4, to_string(a->kind))
          .bind_view(at + 5, a->name)
          .bind(at + 6, a->value)
          .bind_view(at + 7, a->catalogue)
          .bind_view(at + 8, a->source_id)
          .bind(at + 9, a->separation_arcsec)
          .bind_view(at + 10, a->object_type)
          .bind(at + 11, a->redshift);
      if (a->details.empty()) insert.bind_null(at + 12);
      else insert.bind_view(at + 12, a->details);
      insert.bind_view(at + 13, a->provenance.actor)
          .bind_view(at + 14, a->provenance.actor_type)
          .bind_view(at + 15, a->provenance.version)
          .bind_view(at + 16, a->provenance.config_hash)
          .bind_view(at + 17, std::string_view(fingerprints[row].data(), fingerprints[row].size()));
    }
    // Rows already stored (a replay) are ignored one by one, as by separate inserts.
    counts_.annotations += static_cast<uint64_t>(insert.run());
  }
}

AddResult Writer::add_sky_event(const SkyEvent& e) {
  validate(e, db_.path());
  const Localization& l = e.localization;
  // Read the map before writing anything: an event whose map cannot be read is not half stored.
  std::vector<EventMoc> mocs;
  try {
    mocs = credible_mocs(e, db_.path());
  } catch (const Fault& f) {
    return {AddResult::Outcome::rejected, f.place() + ": " + f.message()};
  }
  insert_event_.bind(1, e.event_id)
      .bind(2, static_cast<int64_t>(e.sequence))
      .bind(3, e.source)
      .bind(4, std::string_view(kind_name(e.kind)))
      .bind(5, e.alert_type)
      .bind(6, e.mjd_tai)
      .bind(7, shape_name(l.shape))
      .bind(8, l.ra)
      .bind(9, l.dec)
      .bind(10, l.radius_deg)
      .bind(11, l.semi_major_deg)
      .bind(12, l.semi_minor_deg)
      .bind(13, l.position_angle_deg)
      .bind(14, l.containment_probability)
      .bind(15, l.skymap_url)
      .bind(16, l.skymap_version)
      .bind(17, static_cast<int64_t>(l.skymap_fits.size()))
      .bind(18, e.far_hz)
      .bind(19, e.significance)
      .bind(20, static_cast<int64_t>(e.significant))
      .bind(21, static_cast<int64_t>(e.test))
      .bind(22, static_cast<int64_t>(e.retracted));
  if (e.notice_json.empty()) insert_event_.bind_null(23);
  else insert_event_.bind(23, e.notice_json);
  counts_.sky_events += static_cast<uint64_t>(insert_event_.run());
  for (const EventMoc& moc : mocs) {
    insert_moc_.bind(1, e.event_id)
        .bind(2, static_cast<int64_t>(e.sequence))
        .bind(3, moc.level)
        .bind(4, static_cast<int64_t>(moc.max_order))
        .bind(5, moc.area_deg2)
        .bind(6, moc.cells)
        .bind(7, moc.json);
    insert_moc_.run();
  }
  // The sky map beside the cutouts (the notice column keeps the notice without it).
  if (!options_.cutouts_dir.empty() && !l.skymap_fits.empty()) {
    namespace fs = std::filesystem;
    const fs::path file = fs::path(options_.cutouts_dir) / skymap_store_name(e.event_id, e.sequence);
    fs::create_directories(file.parent_path());
    write_store_file(file, l.skymap_fits, "sky map");
  }
  return {};
}

void Writer::add_coincidence(const Coincidence& co) {
  validate(co, db_.path());
  insert_coincidence_.bind(1, co.event_id)
      .bind(2, static_cast<int64_t>(co.event_sequence))
      .bind(3, co.alert_id)
      .bind(4, co.object_id)
      .bind(5, to_string(co.status))
      .bind(6, co.time_difference_s)
      .bind(7, co.searched_probability)
      .bind(8, co.false_alarm_rate)
      .bind(9, terms_json(co))
      .bind(10, co.other_event_id)
      .bind(11, static_cast<int64_t>(co.other_event_sequence))
      .bind(12, co.alert_ra)
      .bind(13, co.alert_dec)
      .bind(14, co.alert_mag);
  if (co.alert_band.empty()) insert_coincidence_.bind_null(15);
  else insert_coincidence_.bind(15, co.alert_band);
  insert_coincidence_.bind(16, co.alert_mjd_tai);
  counts_.coincidences += static_cast<uint64_t>(insert_coincidence_.run());
}

void Writer::add_cutouts(const AlertCore& c) {
  namespace fs = std::filesystem;
  // Spread files over 1000 folders: one folder of millions of files is slow on most filesystems.
  fs::path dir = fs::path(options_.cutouts_dir) / std::to_string((c.alert_id % 1000 + 1000) % 1000);
  for (const Cutout& cut : c.cutouts) {
    if (cut.bytes.empty()) continue;
    fs::create_directories(dir);
    fs::path file = dir / (std::to_string(c.alert_id) + "-" + std::string(to_string(cut.kind)) + "." + cut.format);
    write_store_file(file, cut.bytes, "cutout");
    insert_cutout_.bind(1, c.alert_id)
        .bind(2, to_string(cut.kind))
        .bind(3, cut.format)
        .bind(4, static_cast<int64_t>(cut.bytes.size()))
        .bind(5, file.string());
    counts_.cutouts += static_cast<uint64_t>(insert_cutout_.run());
  }
}

std::string skymap_store_name(const std::string& event_id, int64_t sequence) {
  std::string name = "skymaps/";
  for (char c : event_id) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return name + "-" + std::to_string(sequence) + ".fits";
}

}  // namespace ebs::repository
