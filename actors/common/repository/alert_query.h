// A Lasair-style SQL condition over the repository with an alert's fields as bound parameters, e.g.
//   SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 3
// An alert passes when the query returns a row. Shared by `sql-filter` (actors/transforms) and the
// filter service's SQL filters (the registry's check, the `filters` actor: docs/filters.md), so
// that a query means the same, and is refused for the same reasons, in both.
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/common/sqlite/sqlite_db.h"
#include "engine/model/record.h"

namespace ebs::repository {

// The alert fields a query may bind, by name (":alert_id", ":mag", ...).
const std::set<std::string>& alert_query_parameters();

// What is wrong with a query, and where in its text (a byte offset, for FILE:LINE:COL or a caret).
struct QueryProblem {
  std::string message;
  size_t offset = 0;
};

// Compiles `sql` against an empty repository in memory, so no database file is needed: SQL errors,
// unknown tables or columns (with the nearest names of the repository's schema), more than one
// statement, a statement that writes, a parameter that is not an alert field.
std::optional<QueryProblem> check_alert_query(const std::string& sql);

// The SQLite virtual-machine steps one alert's query may take by default in the filter service
// (docs/filters.md, "SQL filters"): an indexed look-up of an object takes about a hundred, a
// scan of a table about ten per row.
constexpr int64_t kDefaultQueryStepLimit = 1'000'000;

// A checked query prepared on an open repository, asked once per alert.
class AlertQuery {
 public:
  // `step_limit`: the virtual-machine steps one alert's evaluation may take (0: no limit); a query
  // that needs more is stopped (SQLite's progress handler) and matches()/first_row() raise an
  // SqliteError (SQLITE_INTERRUPT) that says so, naming the limit as `limit_name` (the setting
  // that sets it).
  AlertQuery(const Database& db, const std::string& sql, int64_t step_limit = 0,
             std::string limit_name = "sql_step_limit");

  // Whether the query returns a row for this alert.
  bool matches(const AlertCore& alert);
  // Its first row (column name -> value), or nullopt when it returns none.
  std::optional<nlohmann::json> first_row(const AlertCore& alert);

 private:
  // Binds the alert and steps once. The caller resets before returning, on every path (a Fault
  // reading the row too): a statement left stepping refuses the next alert's bindings, would
  // hold its read transaction open, and the next batches would not see what the repository
  // committed since.
  bool step(const AlertCore& alert);

  Statement statement_;
  sqlite3* db_ = nullptr;
  int64_t step_limit_ = 0;
  std::string limit_name_;
  int64_t steps_ = 0;  // counted by the progress handler during one step()
  // The index of each bound parameter in the statement (0: the query does not use it).
  int alert_id_ = 0, object_id_ = 0, survey_ = 0, ra_ = 0, dec_ = 0, mjd_tai_ = 0, band_ = 0, mag_ = 0, mag_err_ = 0,
      real_bogus_ = 0;
};

}  // namespace ebs::repository
