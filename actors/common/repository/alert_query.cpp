#include "actors/common/repository/alert_query.h"

#include <cctype>
#include <cstring>
#include <vector>

#include "actors/common/repository/raw_json.h"
#include "actors/common/repository/reader.h"
#include "actors/common/repository/schema.h"
#include "engine/util/edit_distance.h"

namespace ebs::repository {

namespace {

// The first whole-word occurrence of `word` in `sql` (0 when absent: the query's start).
size_t word_offset(const std::string& sql, const std::string& word) {
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = sql.find(word); at != std::string::npos; at = sql.find(word, at + 1)) {
    bool starts = at == 0 || !is_word(sql[at - 1]) || word.front() == ':';
    bool ends = at + word.size() == sql.size() || !is_word(sql[at + word.size()]);
    if (starts && ends) return at;
  }
  return 0;
}

std::string did_you_mean(const std::string& name, const std::set<std::string>& pool) {
  std::vector<std::string> hint = nearest_names(name, pool);
  if (hint.empty()) return "";
  std::string text = " (did you mean ";
  for (size_t i = 0; i < hint.size(); ++i) text += (i ? (i + 1 == hint.size() ? " or '" : ", '") : "'") + hint[i] + "'";
  return text + "?)";
}

// SQLite's "no such column: o.ndett" / "no such table: objectz", with the nearest names of the
// repository schema and the typo's place.
QueryProblem unknown_name(const Database& db, const std::string& sql, std::string message) {
  QueryProblem problem{message, 0};
  for (const char* prefix : {"no such column: ", "no such table: "}) {
    if (!message.starts_with(prefix)) continue;
    std::string name = message.substr(std::strlen(prefix));
    problem.offset = word_offset(sql, name);
    if (auto dot = name.rfind('.'); dot != std::string::npos) name = name.substr(dot + 1);
    std::set<std::string> tables, columns;
    Statement list = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')");
    while (list.step()) tables.insert(std::string(list.text(0)));
    for (const std::string& table : tables) {
      Statement info = db.prepare("SELECT name FROM pragma_table_info('" + table + "')");
      while (info.step()) columns.insert(std::string(info.text(0)));
    }
    problem.message += did_you_mean(name, std::string_view(prefix).find("column") != std::string_view::npos ? columns : tables);
  }
  return problem;
}

}  // namespace

const std::set<std::string>& alert_query_parameters() {
  static const std::set<std::string> parameters = {":alert_id", ":object_id", ":survey",  ":ra",      ":dec",
                                                   ":mjd_tai",  ":band",      ":mag",     ":mag_err", ":real_bogus"};
  return parameters;
}

std::optional<QueryProblem> check_alert_query(const std::string& sql) {
  try {
    Database db(":memory:", Database::Mode::read_write);
    register_raw_json(db.get());  // as on the repository the query will run on
    migrate(db);
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
    if (rc != SQLITE_OK) return unknown_name(db, sql, sqlite3_errmsg(db.get()));
    Statement s(&db, raw);
    if (!raw) return QueryProblem{"the query is empty"};
    for (; tail && *tail; ++tail)
      if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';')
        return QueryProblem{"one statement only", static_cast<size_t>(tail - sql.c_str())};
    if (!sqlite3_stmt_readonly(raw)) return QueryProblem{"the query must only read (a SELECT)"};
    const std::set<std::string>& known = alert_query_parameters();
    for (int i = 1; i <= sqlite3_bind_parameter_count(raw); ++i) {
      const char* name = sqlite3_bind_parameter_name(raw, i);
      if (!name || !known.count(name)) {
        std::string list;
        for (const std::string& p : known) list += (list.empty() ? "" : ", ") + p;
        std::string text = name ? name : "?";
        return QueryProblem{"unknown parameter " + text + did_you_mean(text, known) + " (known: " + list + ")",
                            word_offset(sql, text)};
      }
    }
  } catch (const Fault& f) {
    return QueryProblem{f.message()};
  }
  return std::nullopt;
}

AlertQuery::AlertQuery(const Database& db, const std::string& sql, int64_t step_limit, std::string limit_name)
    : statement_(db.prepare(sql)), db_(db.get()), step_limit_(step_limit), limit_name_(std::move(limit_name)) {
  alert_id_ = statement_.parameter_index(":alert_id");
  object_id_ = statement_.parameter_index(":object_id");
  survey_ = statement_.parameter_index(":survey");
  ra_ = statement_.parameter_index(":ra");
  dec_ = statement_.parameter_index(":dec");
  mjd_tai_ = statement_.parameter_index(":mjd_tai");
  band_ = statement_.parameter_index(":band");
  mag_ = statement_.parameter_index(":mag");
  mag_err_ = statement_.parameter_index(":mag_err");
  real_bogus_ = statement_.parameter_index(":real_bogus");
}

bool AlertQuery::step(const AlertCore& c) {
  if (alert_id_) statement_.bind(alert_id_, c.alert_id);
  if (object_id_) statement_.bind(object_id_, std::string_view(c.object_id));
  if (survey_) statement_.bind(survey_, std::string_view(c.survey));
  if (ra_) statement_.bind(ra_, c.ra);
  if (dec_) statement_.bind(dec_, c.dec);
  if (mjd_tai_) statement_.bind(mjd_tai_, c.mjd_tai);
  if (band_) statement_.bind(band_, std::string_view(c.band));
  if (mag_) statement_.bind(mag_, c.mag);
  if (mag_err_) statement_.bind(mag_err_, c.mag_err);
  if (real_bogus_) statement_.bind(real_bogus_, c.real_bogus);
  if (step_limit_ <= 0) {
    try {
      return statement_.step();
    } catch (...) {
      statement_.reset();
      throw;
    }
  }
  // The handler is the connection's: set for this query's step only (the connection's other
  // queries have limits of their own, or none), called every kStepsPerCall steps.
  constexpr int kStepsPerCall = 1000;
  steps_ = 0;
  sqlite3_progress_handler(
      db_, kStepsPerCall,
      [](void* self) -> int {
        auto* query = static_cast<AlertQuery*>(self);
        query->steps_ += kStepsPerCall;
        return query->steps_ > query->step_limit_ ? 1 : 0;  // nonzero: SQLite stops the statement
      },
      this);
  try {
    bool row = statement_.step();
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    return row;
  } catch (const sqlite::SqliteError& e) {
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    statement_.reset();
    if ((e.code() & 0xff) == SQLITE_INTERRUPT && steps_ > step_limit_)
      throw sqlite::SqliteError(e.place(), "it took more than " + std::to_string(step_limit_) +
                                               " SQLite steps for one alert (the limit, " + limit_name_ + ")",
                                e.code());
    throw;
  } catch (...) {
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    statement_.reset();
    throw;
  }
}

namespace {

// Resets a statement however its reader leaves, a row read or a Fault reading it (a damaged
// alerts.raw): a statement left mid-row refuses the next alert's bindings and would give the
// next alert this one's row, and would hold its read transaction open.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { statement_.reset(); }

 private:
  Statement& statement_;
};

}  // namespace

bool AlertQuery::matches(const AlertCore& alert) {
  ResetOnExit reset(statement_);
  return step(alert);
}

std::optional<nlohmann::json> AlertQuery::first_row(const AlertCore& alert) {
  ResetOnExit reset(statement_);
  if (!step(alert)) return std::nullopt;
  return row_to_json(statement_);
}

}  // namespace ebs::repository
