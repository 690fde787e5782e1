#include "actors/sinks/postgres/pg_writer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "actors/sinks/postgres/pg_schema.h"
#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/sky_index.h"

namespace ebs::postgres {

namespace {

using repository::PointKey;
using repository::PointSet;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A multi-row INSERT: `head` VALUES ($1, ...), (...) `tail`, sent whenever the next row would pass
// the protocol's 65535 parameters (well below it: very long statements plan slower).
class RowInserter {
 public:
  static constexpr size_t kMaxParameters = 30000;

  RowInserter(const Connection& connection, std::string head, size_t width, std::string tail,
              std::function<void(const PGresult*)> on_result = {})
      : connection_(connection), head_(std::move(head)), tail_(std::move(tail)), width_(width),
        on_result_(std::move(on_result)) {}

  Params& row() { return params_; }
  void end_row() {
    if (params_.size() + width_ > kMaxParameters) flush();
  }
  void flush() {
    if (params_.size() == 0) return;
    std::string sql = head_;
    sql += " VALUES ";
    for (size_t i = 0; i < params_.size(); ++i) {
      sql += i % width_ == 0 ? (i == 0 ? "(" : "), (") : ", ";
      sql += "$" + std::to_string(i + 1);
    }
    sql += ") ";
    sql += tail_;
    Result result = connection_.execute(sql, params_);
    affected_ += std::strtoull(PQcmdTuples(result.get()), nullptr, 10);
    if (on_result_) on_result_(result.get());
    params_.clear();
  }
  uint64_t affected() const { return affected_; }

 private:
  const Connection& connection_;
  std::string head_, tail_;
  size_t width_;
  std::function<void(const PGresult*)> on_result_;
  Params params_;
  uint64_t affected_ = 0;
};

// An object's row as this transaction's new alerts leave it; merged into the stored row by the
// upsert the way the SQLite writer's one-alert-at-a-time upserts would (the latest alert gives
// position and last magnitude, ties to the later one).
struct ObjectRow {
  const AlertCore* latest;
  int64_t pixel;
  double first;
  int64_t ndet = 0, nalerts = 0;
};

constexpr const char* kUpsertObjectsTail =
    "ON CONFLICT(object_id) DO UPDATE SET "
    "ndet = o.ndet + excluded.ndet, nalerts = o.nalerts + excluded.nalerts, "
    "first_mjd_tai = LEAST(o.first_mjd_tai, excluded.first_mjd_tai), "
    "ra = CASE WHEN excluded.last_mjd_tai >= o.last_mjd_tai THEN excluded.ra ELSE o.ra END, "
    "dec = CASE WHEN excluded.last_mjd_tai >= o.last_mjd_tai THEN excluded.dec ELSE o.dec END, "
    "hpx = CASE WHEN excluded.last_mjd_tai >= o.last_mjd_tai THEN excluded.hpx ELSE o.hpx END, "
    "last_alert_id = CASE WHEN excluded.last_mjd_tai >= o.last_mjd_tai THEN excluded.last_alert_id "
    "ELSE o.last_alert_id END, "
    "last_mag = CASE WHEN excluded.last_mjd_tai >= o.last_mjd_tai THEN excluded.last_mag ELSE o.last_mag END, "
    "last_band = CASE WHEN excluded.last_mjd_tai >= o.last_mjd_tai THEN excluded.last_band ELSE o.last_band END, "
    "last_mjd_tai = GREATEST(o.last_mjd_tai, excluded.last_mjd_tai)";

}  // namespace

PgWriter::PgWriter(std::string url, repository::WriterOptions options)
    : url_(std::move(url)), options_(std::move(options)) {
  if (!options_.cutouts_dir.empty())
    fail(server_place(url_), "cutouts are stored by the SQLite repository only (cutouts_dir)");
  for (const std::string& f : options_.raw_exclude) raw_exclude_.insert(f);  // views into options_
  reconnect();
  migrate(*connection_);
  last_commit_seconds_ = steady_seconds();
}

void PgWriter::reconnect() {
  connection_.reset();
  connection_ = std::make_unique<Connection>(url_, "ebs-flow " + options_.actor);
  // Light-curve points the cache names may belong to a transaction that never committed.
  points_by_object_.clear();
}

void PgWriter::add(RecordPtr record) {
  repository::Writer::validate(*record, server_place(url_));
  if (record->type() == PortType::sky_event) {
    auto mocs = repository::credible_mocs(static_cast<const SkyEvent&>(*record), server_place(url_));
    if (!mocs.empty()) mocs_[record.get()] = std::move(mocs);
  }
  buffer_.push_back(std::move(record));
}

void PgWriter::discard() {
  buffer_.clear();
  mocs_.clear();
}

std::vector<repository::AddResult> PgWriter::commit() {
  if (buffer_.empty()) return {};
  if (!connection_) disconnected(server_place(url_), "not connected");
  repository::WriteCounts counts;
  std::vector<repository::AddResult> outcomes;
  const double started = steady_seconds();
  try {
    connection_->execute("BEGIN");
    write(counts, outcomes);
    const double now = steady_seconds();
    uint64_t alerts = 0;
    for (const RecordPtr& r : buffer_) alerts += r->type() == PortType::alert;
    Params progress;
    progress.add(std::string_view(options_.actor))
        .add(static_cast<int64_t>(buffer_.size()))
        .add(static_cast<int64_t>(alerts))
        .add(now - started)
        .add(static_cast<double>(buffer_.size()) / std::max(now - last_commit_seconds_, 1e-6))
        .add(unix_now());
    connection_->execute(
        "INSERT INTO sink_progress AS p(actor, records, alerts, commits, busy_seconds, records_per_second, "
        "last_commit_unix) VALUES($1, $2, $3, 1, $4, $5, $6) ON CONFLICT(actor) DO UPDATE SET "
        "records = p.records + excluded.records, alerts = p.alerts + excluded.alerts, commits = p.commits + 1, "
        "busy_seconds = p.busy_seconds + excluded.busy_seconds, records_per_second = excluded.records_per_second, "
        "last_commit_unix = excluded.last_commit_unix",
        progress);
    connection_->execute("COMMIT");
    last_commit_seconds_ = now;
  } catch (...) {
    // The cache may name points that were rolled back: forget it, the database is the truth.
    points_by_object_.clear();
    if (connection_->alive()) PQclear(PQexec(connection_->get(), "ROLLBACK"));
    throw;
  }
  counts_.alerts += counts.alerts;
  counts_.alerts_duplicate += counts.alerts_duplicate;
  counts_.lightcurve_points += counts.lightcurve_points;
  counts_.annotations += counts.annotations;
  counts_.sky_events += counts.sky_events;
  counts_.coincidences += counts.coincidences;
  buffer_.clear();
  mocs_.clear();
  return outcomes;
}

void PgWriter::load_points(const std::vector<const AlertCore*>& cores) {
  auto not_cached = [&] {
    std::vector<std::string_view> ids;
    std::unordered_set<std::string_view> seen;
    for (const AlertCore* c : cores)
      if (!points_by_object_.contains(c->object_id) && seen.insert(c->object_id).second) ids.push_back(c->object_id);
    return ids;
  };
  std::vector<std::string_view> unknown = not_cached();
  size_t cached_bytes = 0;  // summed once per transaction: the cache's byte bound
  for (const auto& [object_id, points] : points_by_object_)
    cached_bytes += repository::PointSet::entry_bytes(object_id) + points.memory_bytes();
  if (points_by_object_.size() + unknown.size() > options_.lightcurve_cache_objects ||
      cached_bytes >= options_.lightcurve_cache_bytes) {
    // Start over, and load every object of this transaction: none may be written from an empty set.
    points_by_object_.clear();
    unknown = not_cached();
  }
  for (std::string_view id : unknown) points_by_object_[std::string(id)];
  constexpr size_t kChunk = 2000;
  for (size_t from = 0; from < unknown.size(); from += kChunk) {
    Params ids;
    std::string sql = "SELECT object_id, mjd_tai, band, kind FROM lightcurve WHERE object_id IN (";
    for (size_t i = from; i < std::min(unknown.size(), from + kChunk); ++i) {
      sql += (i == from ? "$" : ", $") + std::to_string(i - from + 1);
      ids.add(unknown[i]);
    }
    sql += ")";
    Result rows = connection_->execute(sql, ids);
    for (int r = 0; r < PQntuples(rows.get()); ++r)
      points_by_object_[std::string(text(rows.get(), r, 0))].insert(
          {number(rows.get(), r, 1), repository::photometry_kind(text(rows.get(), r, 3)),
           std::string(text(rows.get(), r, 2))});
  }
}

std::unordered_map<std::string, repository::StoredIdentity> PgWriter::stored_identities(
    const std::vector<const AlertCore*>& refused) {
  std::unordered_map<std::string, repository::StoredIdentity> found;
  auto read = [&](const std::string& where, const Params& params) {
    Result rows = connection_->execute(
        "SELECT alert_id, survey, alert_key, object_id, mjd_tai, ra, dec, band FROM alerts WHERE " + where, params);
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
      repository::StoredIdentity s{integer(rows.get(), r, 0),           std::string(text(rows.get(), r, 1)),
                                   std::string(text(rows.get(), r, 2)), std::string(text(rows.get(), r, 3)),
                                   std::string(text(rows.get(), r, 7)), number(rows.get(), r, 4),
                                   number(rows.get(), r, 5),            number(rows.get(), r, 6)};
      found.emplace(s.survey + "\n" + s.alert_key, s);
      found.emplace(std::to_string(s.alert_id), std::move(s));
    }
  };
  constexpr size_t kChunk = 2000;
  for (size_t from = 0; from < refused.size(); from += kChunk) {
    Params ids, keys;
    std::string by_id, by_key;
    for (size_t i = from; i < std::min(refused.size(), from + kChunk); ++i) {
      const AlertCore& c = *refused[i];
      ids.add(c.alert_id);
      by_id += (by_id.empty() ? "$" : ", $") + std::to_string(ids.size());
      keys.add(std::string_view(c.survey)).add(std::string_view(repository::stored_alert_key(c)));
      by_key += (by_key.empty() ? "($" : ", ($") + std::to_string(keys.size() - 1) + ", $" + std::to_string(keys.size()) + ")";
    }
    read("alert_id IN (" + by_id + ")", ids);
    read("(survey, alert_key) IN (" + by_key + ")", keys);
  }
  return found;
}

void PgWriter::write(repository::WriteCounts& counts, std::vector<repository::AddResult>& outcomes) {
  const Connection& c = *connection_;
  std::vector<const Alert*> alerts;
  std::vector<size_t> position;  // of each alert in the buffer
  for (size_t i = 0; i < buffer_.size(); ++i)
    if (buffer_[i]->type() == PortType::alert) {
      alerts.push_back(static_cast<const Alert*>(buffer_[i].get()));
      position.push_back(i);
    }
  outcomes.assign(buffer_.size(), repository::AddResult{});

  // Alerts: the ids the database did not have come back; a replayed alert adds no row.
  std::unordered_set<int64_t> inserted;
  {
    RowInserter insert(c,
                       "INSERT INTO alerts(alert_id, object_id, survey, schema_version, ra, dec, hpx, mjd_tai, "
                       "band, mag, mag_err, flux, flux_err, is_diff_pos, real_bogus, raw, alert_key)",
                       17, "ON CONFLICT DO NOTHING RETURNING alert_id", [&](const PGresult* result) {
                         for (int i = 0; i < PQntuples(result); ++i) inserted.insert(integer(result, i, 0));
                       });
    std::string raw;
    for (const Alert* a : alerts) {
      const AlertCore& core = a->core();
      Params& p = insert.row();
      p.add(core.alert_id)
          .add(std::string_view(core.object_id))
          .add(std::string_view(core.survey))
          .add(std::string_view(core.schema_version))
          .add(core.ra)
          .add(core.dec)
          .add(repository::sky_pixel(core.ra, core.dec))
          .add(core.mjd_tai)
          .add(std::string_view(core.band))
          .add(core.mag)
          .add(core.mag_err)
          .add(core.flux)
          .add(core.flux_err)
          .add(static_cast<int64_t>(core.is_diff_pos))
          .add(core.real_bogus);
      raw.clear();
      if (options_.store_raw && !core.raw.empty()) repository::append_raw_json(raw, core.raw.root(), raw_exclude_);
      if (raw.empty()) p.add_null();
      else p.add(std::string_view(raw));
      p.add(std::string_view(repository::stored_alert_key(core)));
      insert.end_row();
    }
    insert.flush();
  }

  // The new alerts, in arrival order (an id twice in the buffer is new once); the others meet the
  // stored alert that holds their id under the one identity rule: repeats skipped, conflicts
  // left out of every table.
  std::vector<const AlertCore*> fresh, refused;
  std::vector<size_t> refused_index;  // into `alerts`
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (inserted.erase(alerts[i]->core().alert_id)) {
      fresh.push_back(&alerts[i]->core());
    } else {
      refused.push_back(&alerts[i]->core());
      refused_index.push_back(i);
    }
  }
  std::vector<bool> conflict(alerts.size(), false);
  if (!refused.empty()) {
    const auto stored = stored_identities(refused);
    for (size_t i : refused_index) {
      const AlertCore& core = alerts[i]->core();
      auto it = stored.find(std::to_string(core.alert_id));
      if (it == stored.end()) it = stored.find(core.survey + "\n" + repository::stored_alert_key(core));
      repository::AddResult result = repository::identity_outcome(core, it == stored.end() ? nullptr : &it->second);
      if (result.outcome == repository::AddResult::Outcome::repeat) ++counts.alerts_duplicate;
      conflict[i] = result.outcome == repository::AddResult::Outcome::conflict;
      outcomes[position[i]] = std::move(result);
    }
  }
  counts.alerts += fresh.size();
  load_points(fresh);

  // Their light-curve points not stored before, and their objects.
  RowInserter points(c,
                     "INSERT INTO lightcurve(object_id, mjd_tai, band, kind, mag, mag_err, flux, flux_err, "
                     "limit_mag, is_diff_pos, alert_id)",
                     11, "ON CONFLICT DO NOTHING");
  std::vector<std::pair<std::string_view, ObjectRow>> objects;
  std::unordered_map<std::string_view, size_t> object_index;
  for (const AlertCore* core : fresh) {
    PointSet& known = points_by_object_[core->object_id];
    auto add_point = [&](const Photometry& p) {
      if (!std::isfinite(p.mjd_tai)) return false;
      PointKey key{p.mjd_tai, p.kind, p.band};
      if (!known.insert(std::move(key))) return false;
      points.row()
          .add(std::string_view(core->object_id))
          .add(p.mjd_tai)
          .add(std::string_view(p.band))
          .add(to_string(p.kind))
          .add(p.mag)
          .add(p.mag_err)
          .add(p.flux)
          .add(p.flux_err)
          .add(p.limit_mag)
          .add(static_cast<int64_t>(p.is_diff_pos))
          .add(core->alert_id);
      points.end_row();
      return true;
    };
    int64_t new_detections = add_point(own_detection(*core)) ? 1 : 0;
    double first = core->mjd_tai;
    for (const Photometry& p : core->history) {
      bool added = add_point(p);
      if (p.kind == Photometry::Kind::detection) {
        if (added) ++new_detections;
        if (std::isfinite(p.mjd_tai)) first = std::min(first, p.mjd_tai);
      }
    }
    auto [it, is_new] = object_index.try_emplace(core->object_id, objects.size());
    if (is_new) objects.push_back({core->object_id, ObjectRow{core, repository::sky_pixel(core->ra, core->dec), first}});
    ObjectRow& row = objects[it->second].second;
    row.ndet += new_detections;
    row.nalerts += 1;
    row.first = std::min(row.first, first);
    if (core->mjd_tai >= row.latest->mjd_tai) {
      row.latest = core;
      row.pixel = repository::sky_pixel(core->ra, core->dec);
    }
  }
  points.flush();
  counts.lightcurve_points += points.affected();

  // Objects in key order: concurrent writers lock rows in the same order and do not deadlock.
  std::sort(objects.begin(), objects.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  RowInserter upsert(c,
                     "INSERT INTO objects AS o(object_id, survey, ra, dec, hpx, first_mjd_tai, last_mjd_tai, ndet, "
                     "nalerts, last_alert_id, last_mag, last_band)",
                     12, kUpsertObjectsTail);
  for (const auto& [id, row] : objects) {
    const AlertCore& latest = *row.latest;
    upsert.row()
        .add(id)
        .add(std::string_view(latest.survey))
        .add(latest.ra)
        .add(latest.dec)
        .add(row.pixel)
        .add(row.first)
        .add(latest.mjd_tai)
        .add(row.ndet)
        .add(row.nalerts)
        .add(static_cast<int64_t>(latest.alert_id))
        .add(latest.mag)
        .add(std::string_view(latest.band));
    upsert.end_row();
  }
  upsert.flush();

  // Annotations of every alert, repeats included (a conflict writes nothing): appended, never updated.
  RowInserter annotations(c,
                          "INSERT INTO annotations(alert_id, object_id, mjd_tai, kind, name, value, catalogue, "
                          "source_id, separation_arcsec, object_type, redshift, details, actor, actor_type, version, "
                          "config_hash, fingerprint)",
                          17, "ON CONFLICT DO NOTHING");
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (conflict[i]) continue;
    const Alert* alert = alerts[i];
    const AlertCore& core = alert->core();
    for (const Annotation* a : alert->annotations().list()) {
      Params& p = annotations.row();
      p.add(core.alert_id)
          .add(std::string_view(core.object_id))
          .add(core.mjd_tai)
          .add(to_string(a->kind))
          .add(std::string_view(a->name))
          .add(a->value)
          .add(std::string_view(a->catalogue))
          .add(std::string_view(a->source_id))
          .add(a->separation_arcsec)
          .add(std::string_view(a->object_type))
          .add(a->redshift);
      if (a->details.empty()) p.add_null();
      else p.add(std::string_view(a->details));
      p.add(std::string_view(a->provenance.actor))
          .add(std::string_view(a->provenance.actor_type))
          .add(std::string_view(a->provenance.version))
          .add(std::string_view(a->provenance.config_hash))
          .add(std::string_view(repository::annotation_fingerprint(*a)));
      annotations.end_row();
    }
  }
  annotations.flush();
  counts.annotations += annotations.affected();

  RowInserter events(c,
                     "INSERT INTO sky_events(event_id, sequence, source, kind, alert_type, mjd_tai, shape, ra, dec, "
                     "radius_deg, semi_major_deg, semi_minor_deg, position_angle_deg, containment_probability, "
                     "skymap_url, skymap_version, skymap_bytes, far_hz, significance, significant, test, retracted, "
                     "notice)",
                     23, "ON CONFLICT DO NOTHING");
  RowInserter mocs(c, "INSERT INTO sky_event_mocs(event_id, sequence, level, max_order, area_deg2, cells, moc)", 7,
                   "ON CONFLICT DO NOTHING");
  RowInserter coincidences(c,
                           "INSERT INTO coincidences(event_id, event_sequence, alert_id, object_id, status, "
                           "time_difference_s, searched_probability, false_alarm_rate, terms, other_event_id, "
                           "other_event_sequence, alert_ra, alert_dec, alert_mag, alert_band, alert_mjd_tai)",
                           16, "ON CONFLICT DO NOTHING");
  for (const RecordPtr& r : buffer_) {
    if (r->type() == PortType::sky_event) {
      const auto& e = static_cast<const SkyEvent&>(*r);
      const Localization& l = e.localization;
      if (auto found = mocs_.find(r.get()); found != mocs_.end()) {
        for (const repository::EventMoc& moc : found->second) {
          mocs.row()
              .add(std::string_view(e.event_id))
              .add(static_cast<int64_t>(e.sequence))
              .add(moc.level)
              .add(static_cast<int64_t>(moc.max_order))
              .add(moc.area_deg2)
              .add(moc.cells)
              .add(std::string_view(moc.json));
          mocs.end_row();
        }
      }
      Params& p = events.row();
      p.add(std::string_view(e.event_id))
          .add(static_cast<int64_t>(e.sequence))
          .add(std::string_view(e.source))
          .add(to_string(e.kind))
          .add(std::string_view(e.alert_type))
          .add(e.mjd_tai)
          .add(repository::shape_name(l.shape))
          .add(l.ra)
          .add(l.dec)
          .add(l.radius_deg)
          .add(l.semi_major_deg)
          .add(l.semi_minor_deg)
          .add(l.position_angle_deg)
          .add(l.containment_probability)
          .add(std::string_view(l.skymap_url))
          .add(std::string_view(l.skymap_version))
          .add(static_cast<int64_t>(l.skymap_fits.size()))
          .add(e.far_hz)
          .add(e.significance)
          .add(static_cast<int64_t>(e.significant))
          .add(static_cast<int64_t>(e.test))
          .add(static_cast<int64_t>(e.retracted));
      if (e.notice_json.empty()) p.add_null();
      else p.add(std::string_view(e.notice_json));
      events.end_row();
    } else if (r->type() == PortType::coincidence) {
      const auto& co = static_cast<const Coincidence&>(*r);
      Params& p = coincidences.row();
      p.add(std::string_view(co.event_id))
          .add(static_cast<int64_t>(co.event_sequence))
          .add(static_cast<int64_t>(co.alert_id))
          .add(std::string_view(co.object_id))
          .add(to_string(co.status))
          .add(co.time_difference_s)
          .add(co.searched_probability)
          .add(co.false_alarm_rate)
          .add(std::string_view(repository::terms_json(co)))
          .add(std::string_view(co.other_event_id))
          .add(static_cast<int64_t>(co.other_event_sequence))
          .add(co.alert_ra)
          .add(co.alert_dec)
          .add(co.alert_mag);
      if (co.alert_band.empty()) p.add_null();
      else p.add(std::string_view(co.alert_band));
      p.add(co.alert_mjd_tai);
      coincidences.end_row();
    }
  }
  events.flush();
  mocs.flush();  // after the events: a MOC row never lands without its event
  coincidences.flush();
  counts.sky_events += events.affected();
  counts.coincidences += coincidences.affected();
}

}  // namespace ebs::postgres
