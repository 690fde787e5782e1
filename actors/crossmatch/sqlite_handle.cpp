#include "actors/crossmatch/sqlite_handle.h"

#include "engine/util/fault.h"

namespace ebs::catalog {

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

}  // namespace ebs::catalog
