#include "actors/common/repository/reader.h"

#include <algorithm>
#include <cmath>

#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/rows.h"
#include "actors/common/repository/schema.h"
#include "actors/common/repository/sky_index.h"

namespace ebs::repository {

namespace {

constexpr const char* kAlertColumns =
    "a.alert_id, a.object_id, a.survey, a.ra, a.dec, a.mjd_tai, a.band, a.mag, a.mag_err, a.flux, a.flux_err, "
    "a.is_diff_pos, a.real_bogus, a.alert_key";

}  // namespace

bool is_json_column(std::string_view name) {
  return name == "raw" || name == "details" || name == "terms" || name == "notice";
}

namespace {

// Which alert a row is, for an error about it: its alert_id column, or its alert_key.
std::string row_alert(const Statement& s) {
  for (const char* column : {"alert_id", "alert_key"})
    for (int i = 0; i < s.column_count(); ++i) {
      const char* name = sqlite3_column_name(s.get(), i);
      if (name && std::string_view(name) == column && !s.is_null(i)) return "alert " + std::string(s.text(i));
    }
  return "an alert (the row has no alert_id column)";
}

}  // namespace

std::optional<nlohmann::json> json_column(const Statement& s, int i) {
  const char* name = sqlite3_column_name(s.get(), i);
  if (!name || !is_json_column(name)) return std::nullopt;
  const int type = sqlite3_column_type(s.get(), i);
  // Only a column named exactly `raw` is read as alerts.raw: `SELECT raw AS r` gives the BLOB
  // (its length, row_to_json), `raw_json(raw) AS r` its JSON text (docs/repository.md).
  if (type == SQLITE_BLOB && std::string_view(name) == "raw") {
    const std::string_view stored = s.blob(i);  // read before any text() of another column
    std::string text;
    try {
      append_stored_raw_json(text, stored, true, "alerts.raw");
    } catch (const Fault& f) {
      fail("alerts.raw of " + row_alert(s), f.message());
    }
    // Text that is not JSON (a string that is not UTF-8) as text, as when it was stored as such.
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_discarded()) return std::move(text);
    return parsed;
  }
  if (type != SQLITE_TEXT) return std::nullopt;
  nlohmann::json parsed = nlohmann::json::parse(s.text(i), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

nlohmann::json row_to_json(const Statement& s) {
  nlohmann::json row = nlohmann::json::object();
  for (int i = 0; i < s.column_count(); ++i) {
    const char* name = sqlite3_column_name(s.get(), i);
    std::string key = name ? name : std::to_string(i);
    switch (sqlite3_column_type(s.get(), i)) {
      case SQLITE_INTEGER:
        if (is_alert_id_column(key)) row[key] = std::to_string(s.integer(i));
        else row[key] = s.integer(i);
        break;
      case SQLITE_FLOAT: row[key] = s.number(i); break;
      case SQLITE_TEXT:
      case SQLITE_BLOB:
        if (std::optional<nlohmann::json> json = json_column(s, i)) row[key] = std::move(*json);
        else if (sqlite3_column_type(s.get(), i) == SQLITE_BLOB) row[key] = sqlite3_column_bytes(s.get(), i);
        else row[key] = std::string(s.text(i));
        break;
      default: row[key] = nullptr;
    }
  }
  return row;
}

Reader::Reader(const std::string& path, int busy_timeout_ms)
    : db_(path, Database::Mode::read_only, busy_timeout_ms) {
  register_raw_json(db_.get());
  int v = schema_version(db_);
  if (v == 0) throw SqliteError(path, "not an ebs-flow repository (no schema_version table)", SQLITE_ERROR);
  if (!readable_schema_version(v)) {
    const char* remedy = v > kSchemaVersion ? "upgrade ebs-flow" : "open it once with the repository sink to migrate";
    throw SqliteError(path,
                      "repository schema version " + std::to_string(v) + ", this ebs-flow reads versions " +
                          std::to_string(kOldestReadableSchemaVersion) + " to " + std::to_string(kSchemaVersion) +
                          ": " + remedy,
                      SQLITE_ERROR);
  }
}

int Reader::version() const { return schema_version(db_); }

nlohmann::json Reader::cone(double ra, double dec, double radius_arcsec, int64_t limit) const {
  const double radius_deg = radius_arcsec / 3600.0;
  Statement s = db_.prepare(std::string("SELECT ") + kAlertColumns + " FROM alerts a WHERE a.hpx BETWEEN ?1 AND ?2");
  std::vector<std::pair<double, nlohmann::json>> hits;
  for (const auto& [first, last] : cone_pixel_ranges(ra, dec, radius_deg)) {
    s.bind(1, first).bind(2, last);
    while (s.step()) {
      double sep = angular_distance_deg(ra, dec, s.number(3), s.number(4));
      if (sep > radius_deg) continue;
      nlohmann::json row = row_to_json(s);
      row["sep_arcsec"] = sep * 3600.0;
      hits.emplace_back(sep, std::move(row));
    }
    s.reset();
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  nlohmann::json out = nlohmann::json::array();
  for (auto& h : hits) {
    if (static_cast<int64_t>(out.size()) >= limit) break;
    out.push_back(std::move(h.second));
  }
  return out;
}

nlohmann::json Reader::lightcurve(const std::string& object_id) const {
  Statement object = db_.prepare("SELECT * FROM objects WHERE object_id = ?1");
  object.bind(1, object_id);
  if (!object.step()) return nullptr;
  nlohmann::json out = row_to_json(object);
  Statement points = db_.prepare(
      "SELECT mjd_tai, band, kind, mag, mag_err, flux, flux_err, limit_mag, is_diff_pos, alert_id "
      "FROM lightcurve WHERE object_id = ?1 ORDER BY mjd_tai, band, kind");
  points.bind(1, object_id);
  nlohmann::json list = nlohmann::json::array();
  while (points.step()) list.push_back(row_to_json(points));
  out["lightcurve"] = std::move(list);
  return out;
}

nlohmann::json Reader::alerts_by_class(const std::string& label, double min_probability, int64_t limit) const {
  Statement s = db_.prepare(std::string("SELECT ") + kAlertColumns +
                            ", n.value AS probability, n.actor, n.version FROM annotations n "
                            "JOIN alerts a ON a.alert_id = n.alert_id "
                            "WHERE n.kind = 'classification' AND n.name = ?1 AND (?2 IS NULL OR n.value >= ?2) "
                            "ORDER BY n.mjd_tai DESC LIMIT ?3");
  s.bind(1, label).bind(2, min_probability).bind(3, limit);
  nlohmann::json out = nlohmann::json::array();
  while (s.step()) out.push_back(row_to_json(s));
  return out;
}

nlohmann::json Reader::alerts_by_score(const std::string& name, double min, int64_t limit) const {
  Statement s = db_.prepare(std::string("SELECT ") + kAlertColumns +
                            ", n.value AS score, n.actor, n.version FROM annotations n "
                            "JOIN alerts a ON a.alert_id = n.alert_id "
                            "WHERE n.kind = 'score' AND n.name = ?1 AND n.value >= ?2 "
                            "ORDER BY n.mjd_tai DESC LIMIT ?3");
  s.bind(1, name).bind(2, min).bind(3, limit);
  nlohmann::json out = nlohmann::json::array();
  while (s.step()) out.push_back(row_to_json(s));
  return out;
}

nlohmann::json Reader::event_coincidences(const std::string& event_id, bool history) const {
  Statement events = db_.prepare("SELECT * FROM sky_events WHERE event_id = ?1 ORDER BY sequence");
  events.bind(1, event_id);
  nlohmann::json notices = nlohmann::json::array();
  while (events.step()) notices.push_back(row_to_json(events));
  const std::string columns =
      "event_id, event_sequence, alert_id, object_id, other_event_id, other_event_sequence, status, "
      "time_difference_s, searched_probability, false_alarm_rate, terms, alert_ra AS ra, alert_dec AS dec, "
      "alert_mjd_tai AS mjd_tai, alert_mag AS mag, alert_band AS band";
  const std::string rows = "SELECT *, row_number() OVER (PARTITION BY event_id, object_id, other_event_id ORDER BY "
                           "event_sequence DESC, other_event_sequence DESC, status = 'withdrawn' DESC) AS latest "
                           "FROM coincidences WHERE event_id = ?1 OR other_event_id = ?1";
  Statement s = db_.prepare("SELECT " + columns + " FROM (" + rows + ")" + (history ? "" : " WHERE latest = 1") +
                            " ORDER BY event_sequence, alert_id, other_event_id, other_event_sequence, status");
  s.bind(1, event_id);
  nlohmann::json list = nlohmann::json::array();
  while (s.step()) list.push_back(row_to_json(s));
  if (notices.empty() && list.empty()) return nullptr;
  return {{"event_id", event_id}, {"notices", std::move(notices)}, {"coincidences", std::move(list)}};
}

std::vector<std::pair<std::string, int64_t>> Reader::table_rows() const {
  std::vector<std::pair<std::string, int64_t>> rows;
  for (const char* table : kTables) rows.emplace_back(table, db_.scalar(std::string("SELECT count(*) FROM ") + table));
  return rows;
}

nlohmann::json Reader::sink_progress() const {
  Statement s = db_.prepare("SELECT * FROM sink_progress ORDER BY actor");
  nlohmann::json out = nlohmann::json::array();
  while (s.step()) out.push_back(row_to_json(s));
  return out;
}

void Reader::query(const std::string& sql, const nlohmann::json& parameters,
                   const std::function<void(const nlohmann::json&)>& row) const {
  query_rows(sql, parameters, [](const Statement&) {}, [&](const Statement& s) { row(row_to_json(s)); });
}

void Reader::query_rows(const std::string& sql, const nlohmann::json& parameters,
                        const std::function<void(const Statement&)>& columns,
                        const std::function<void(const Statement&)>& row) const {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
  if (rc != SQLITE_OK) db_.raise(rc, "cannot prepare the query");
  Statement s(&db_, raw);
  if (!s) fail(db_.path(), "the query is empty");
  for (; tail && *tail; ++tail)
    if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';')
      fail(db_.path(), "one statement only: the query continues after its first statement");
  if (!sqlite3_stmt_readonly(raw)) fail(db_.path(), "the query would write: the repository is opened read-only");
  for (int i = 1; i <= sqlite3_bind_parameter_count(raw); ++i) {
    const char* name = sqlite3_bind_parameter_name(raw, i);
    if (!name) fail(db_.path(), "parameter " + std::to_string(i) + " has no name: use :name");
    auto it = parameters.find(name + 1);
    if (it == parameters.end()) fail(db_.path(), std::string("no value for parameter ") + name);
    if (it->is_number_integer()) s.bind(i, it->get<int64_t>());
    else if (it->is_number()) s.bind(i, it->get<double>());
    else if (it->is_string()) s.bind(i, it->get<std::string>());
    else if (it->is_boolean()) s.bind(i, static_cast<int64_t>(it->get<bool>()));
    else s.bind_null(i);
  }
  columns(s);
  while (s.step()) row(s);
}

}  // namespace ebs::repository
