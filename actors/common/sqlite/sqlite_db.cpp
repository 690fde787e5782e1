#include "actors/common/sqlite/sqlite_db.h"

#include <cmath>

namespace ebs::sqlite {

namespace {

// SQLite's memory statistics (on unless built otherwise, as Debian's is) hold a global mutex
// around every malloc and free it makes, in every connection, whatever its threading mode; and
// Debian's build has no lookaside, so every small allocation of a statement is one (the
// repository's writer: tens per alert). Nothing here reads the statistics (sqlite3_memory_used,
// sqlite3_status64) or sets a heap limit: with the statistics off, sqlite3_soft_heap_limit64,
// sqlite3_hard_heap_limit64 and the soft_heap_limit / hard_heap_limit pragmas do nothing (SQLite
// checks its limits only where it counts). They can be turned off only before SQLite
// initializes: at load, before main.
// A library that initialized SQLite earlier keeps them on (the call fails, nothing else changes).
[[maybe_unused]] const bool memory_statistics_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;

}  // namespace

bool is_storage_error(int code) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

Database::Database(const std::string& path, Mode mode, int busy_timeout_ms, const char* vfs) : path_(path) {
  int flags = mode == Mode::read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, vfs);
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    db_.reset();
    throw SqliteError(path, "cannot open: " + message, rc);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
}

void Database::raise(int code, std::string_view what) const {
  std::string message = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(code);
  throw SqliteError(path_, std::string(what) + ": " + message, code);
}

void Database::execute(const std::string& sql) const {
  char* error = nullptr;
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    std::string head = sql.substr(0, 60);
    throw SqliteError(path_, message + " (in: " + head + (sql.size() > 60 ? "...)" : ")"), rc);
  }
}

Statement Database::prepare(std::string_view sql) const {
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &statement, nullptr);
  if (rc != SQLITE_OK) raise(rc, "cannot prepare '" + std::string(sql.substr(0, 80)) + "'");
  return Statement(this, statement);
}

int64_t Database::scalar(std::string_view sql, int64_t fallback) const {
  Statement s = prepare(sql);
  if (!s.step() || s.is_null(0)) return fallback;
  return s.integer(0);
}

namespace {

// A binding SQLite refused (SQLITE_MISUSE: the statement was left mid-run, never reset;
// SQLITE_RANGE; SQLITE_TOOBIG) raised: ignored, the statement would run with what was bound before.
void check_bind(const Database* db, sqlite3_stmt* statement, int rc, int index) {
  if (rc == SQLITE_OK) return;
  const char* name = sqlite3_bind_parameter_name(statement, index);
  throw SqliteError(db ? db->path() : std::string(),
                    "cannot bind parameter " + (name ? std::string(name) : std::to_string(index)) + ": " +
                        sqlite3_errstr(rc),
                    rc);
}

}  // namespace

Statement& Statement::bind(int index, int64_t value) {
  check_bind(db_, statement_.get(), sqlite3_bind_int64(statement_.get(), index, value), index);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  check_bind(db_, statement_.get(),
             std::isnan(value) ? sqlite3_bind_null(statement_.get(), index)
                               : sqlite3_bind_double(statement_.get(), index, value),
             index);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  check_bind(db_, statement_.get(),
             sqlite3_bind_text64(statement_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
             index);
  return *this;
}
Statement& Statement::bind_view(int index, std::string_view text) {
  check_bind(db_, statement_.get(),
             sqlite3_bind_text64(statement_.get(), index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8), index);
  return *this;
}
Statement& Statement::bind_null(int index) {
  check_bind(db_, statement_.get(), sqlite3_bind_null(statement_.get(), index), index);
  return *this;
}
Statement& Statement::bind_blob(int index, std::string_view bytes) {
  check_bind(db_, statement_.get(), sqlite3_bind_blob64(statement_.get(), index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
             index);
  return *this;
}
Statement& Statement::bind_blob_view(int index, std::string_view bytes) {
  check_bind(db_, statement_.get(), sqlite3_bind_blob64(statement_.get(), index, bytes.data(), bytes.size(), SQLITE_STATIC),
             index);
  return *this;
}
bool Statement::has_parameter(const char* name) const { return parameter_index(name) > 0; }
int Statement::parameter_index(const char* name) const {
  return sqlite3_bind_parameter_index(statement_.get(), name);
}

bool Statement::step() {
  int rc = sqlite3_step(statement_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // As reset(): a failed statement holds no binding, so no view bound for this run (bind_view)
  // is read by a later one.
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
  db_->raise(rc, "statement failed");
}

int Statement::run() {
  while (step()) {
  }
  int changes = sqlite3_changes(db_->get());
  reset();
  return changes;
}

void Statement::reset() {
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
}

double Statement::number(int column) const {
  if (is_null(column)) return NAN;
  return sqlite3_column_double(statement_.get(), column);
}

std::string_view Statement::text(int column) const {
  const unsigned char* p = sqlite3_column_text(statement_.get(), column);
  if (!p) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(statement_.get(), column))};
}

std::string_view Statement::blob(int column) const {
  const void* p = sqlite3_column_blob(statement_.get(), column);
  if (!p) return {};
  return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(statement_.get(), column))};
}

Transaction::Transaction(const Database& db) : db_(db) { db_.execute("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.execute("COMMIT");
  open_ = false;
}

SqliteDatabase open_sqlite(const std::string& path, int flags, const std::string& place) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDatabase db(raw);
  if (rc != SQLITE_OK)
    fail(place, std::string("cannot open SQLite database: ") + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  return db;
}

void execute_sql(sqlite3* db, const std::string& sql, const std::string& place) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    fail(place, "SQLite: " + message);
  }
}

SqliteStatement prepare_sql(sqlite3* db, const std::string& sql, const std::string& place) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK)
    fail(place, std::string("SQLite: ") + sqlite3_errmsg(db));
  return SqliteStatement(raw);
}

std::string quote_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace ebs::sqlite
