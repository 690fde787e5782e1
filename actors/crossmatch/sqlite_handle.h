// Small RAII helpers over the SQLite C API, shared by the catalogue writer and reader.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

namespace ebs::catalog {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using SqliteDatabase = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStatement = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

// Each throws a Fault naming `place` and SQLite's message.
SqliteDatabase open_sqlite(const std::string& path, int flags, const std::string& place);
void execute_sql(sqlite3* db, const std::string& sql, const std::string& place);
SqliteStatement prepare_sql(sqlite3* db, const std::string& sql, const std::string& place);
// Quotes an identifier for SQL ("a ""b""").
std::string quote_identifier(const std::string& name);

}  // namespace ebs::catalog
