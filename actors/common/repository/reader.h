// Read-only queries over a repository: the cone search, light curves, alerts by class or score,
// coincidences of a sky event, row counts, and arbitrary read-only SQL (the `query` command).
// The connection is opened with SQLITE_OPEN_READONLY, so no statement can write; every value
// from outside is a bound parameter. One Reader per thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actors/common/sqlite/sqlite_db.h"

namespace ebs::repository {

class Reader {
 public:
  explicit Reader(const std::string& path, int busy_timeout_ms = 2000);

  // Alerts within `radius_arcsec` of (ra, dec), nearest first, each with `sep_arcsec`.
  nlohmann::json cone(double ra, double dec, double radius_arcsec, int64_t limit) const;
  // The object's light-curve points, oldest first; null when the object is unknown.
  nlohmann::json lightcurve(const std::string& object_id) const;
  // Latest alerts carrying a classification `label` (probability >= min_probability when given).
  nlohmann::json alerts_by_class(const std::string& label, double min_probability, int64_t limit) const;
  // Latest alerts scored by `name` with value >= min.
  nlohmann::json alerts_by_score(const std::string& name, double min, int64_t limit) const;
  // The coincidences of a sky event, with the event's notices: alerts in its region (with the alert
  // as found: ra, dec, mjd_tai, mag, band), and pairs with other sky events whichever side of the
  // pair the event is on. By default each candidate's current state: its row of the latest notice
  // (a withdrawal over an earlier state of the same notice), so that the list does not depend on
  // whether alerts came before or after an UPDATE; `history`: every row (every notice, every change).
  nlohmann::json event_coincidences(const std::string& event_id, bool history = false) const;
  // Rows per table, in kTables order.
  std::vector<std::pair<std::string, int64_t>> table_rows() const;
  // What the sinks recorded at their last commit (sink_progress rows).
  nlohmann::json sink_progress() const;
  int version() const;

  // Runs one read-only SQL statement with named parameters, calling `row` with each result row
  // as a JSON object. A statement that would write, or several statements, raise a Fault.
  void query(const std::string& sql, const nlohmann::json& parameters,
             const std::function<void(const nlohmann::json&)>& row) const;
  // The same checks and bindings; `columns` sees the prepared statement once (names and declared
  // types in SELECT order), then `row` reads each result row from it: what `query --format` writes.
  void query_rows(const std::string& sql, const nlohmann::json& parameters,
                  const std::function<void(const Statement&)>& columns,
                  const std::function<void(const Statement&)>& row) const;

  const Database& database() const { return db_; }

 private:
  Database db_;
};

// Columns holding JSON text (raw, details, terms, notice): read back as JSON.
bool is_json_column(std::string_view name);

// A column named as a JSON column, read as JSON: its text parsed, and alerts.raw's BLOB (the
// compact form, raw_json.h) as the JSON the record renders to. nullopt for another column, or a text
// that is not JSON. A damaged BLOB is a Fault naming the row's alert (its alert_id column).
std::optional<nlohmann::json> json_column(const Statement& statement, int column);

// A result row as JSON (column name -> value; JSON columns as JSON, other BLOBs as their length).
nlohmann::json row_to_json(const Statement& statement);

}  // namespace ebs::repository
