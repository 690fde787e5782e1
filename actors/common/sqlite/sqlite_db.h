// The one thin RAII layer over the SQLite C API (the repository, the catalogues, the model
// registry): connections, prepared statements with bound parameters, and faults that name the
// database and SQLite's own message. Hot loops that bind and read columns by hand (the catalogue
// builder and reader) use the raw-handle helpers at the end.
//
// Storage failures (locked, busy, full disk, I/O error, read-only file) are told apart from the
// rest: a sink stops on them instead of dead-lettering records that are fine.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/util/fault.h"

namespace ebs::sqlite {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

// Whether an SQLite result code means the storage, not the data, failed.
bool is_storage_error(int code);

// A fault raised by an SQLite call: the place is the database path, the message SQLite's own.
class SqliteError : public Fault {
 public:
  SqliteError(std::string place, std::string message, int code)
      : Fault(is_storage_error(code) ? FaultKind::overloaded : FaultKind::failed, std::move(place),
              std::move(message)),
        code_(code) {}
  int code() const { return code_; }
  bool storage() const { return is_storage_error(code_); }

 private:
  int code_;
};

class Statement;

class Database {
 public:
  enum class Mode { read_only, read_write };
  Database() = default;
  // Opens `path`; read_write creates it. `busy_timeout_ms`: how long to wait for another
  // connection's lock before SQLITE_BUSY. `vfs`: a registered VFS's name (nullptr: the default),
  // e.g. wal_gathering_vfs() for a connection that writes a WAL.
  Database(const std::string& path, Mode mode, int busy_timeout_ms = 2000, const char* vfs = nullptr);

  sqlite3* get() const { return db_.get(); }
  const std::string& path() const { return path_; }
  explicit operator bool() const { return db_ != nullptr; }

  void execute(const std::string& sql) const;
  Statement prepare(std::string_view sql) const;
  // The single integer a query returns (or `fallback` when it returns no row / NULL).
  int64_t scalar(std::string_view sql, int64_t fallback = 0) const;
  [[noreturn]] void raise(int code, std::string_view what) const;

 private:
  std::unique_ptr<sqlite3, SqliteCloser> db_;
  std::string path_;
};

// A prepared statement: bind by 1-based index or by name (":object_id"), step, read columns.
class Statement {
 public:
  Statement() = default;
  Statement(const Database* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}

  sqlite3_stmt* get() const { return statement_.get(); }
  explicit operator bool() const { return statement_ != nullptr; }

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);  // NaN binds NULL
  Statement& bind(int index, std::string_view text);
  // Binds `text` without copying it (SQLite's copy is a malloc and a free per value), for hot
  // inserts. The rule: `text` stays alive and unchanged until the binding is cleared (run()
  // returning, reset(), or step() throwing), since every step() until then may read it (a step()
  // after the last row runs the statement again with the same bindings); and a statement bound
  // this way has every one of its parameters bound again before each run (the writer's hot
  // inserts do: a parameter left out would be NULL, never an earlier run's view).
  Statement& bind_view(int index, std::string_view text);
  Statement& bind_null(int index);
  Statement& bind_blob(int index, std::string_view bytes);
  // A BLOB bound without copying it, under bind_view's rule.
  Statement& bind_blob_view(int index, std::string_view bytes);
  // Binds by parameter name; absent names are ignored (returns false).
  bool has_parameter(const char* name) const;
  int parameter_index(const char* name) const;

  // true: a row is ready; false: done. Storage or constraint errors raise SqliteError.
  bool step();
  // Runs to completion and resets for reuse; returns sqlite3_changes().
  int run();
  void reset();

  int column_count() const { return sqlite3_column_count(statement_.get()); }
  bool is_null(int column) const { return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL; }
  int64_t integer(int column) const { return sqlite3_column_int64(statement_.get(), column); }
  double number(int column) const;  // NULL reads as NaN
  std::string_view text(int column) const;
  std::string_view blob(int column) const;

 private:
  const Database* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, SqliteFinalizer> statement_;
};

// RAII transaction: BEGIN IMMEDIATE on construction, ROLLBACK unless commit() was called.
class Transaction {
 public:
  explicit Transaction(const Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  const Database& db_;
  bool open_ = true;
};

using SqliteDatabase = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStatement = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

// Raw handles for code that drives sqlite3_* itself; each raises a Fault naming `place` and
// SQLite's message.
SqliteDatabase open_sqlite(const std::string& path, int flags, const std::string& place);
void execute_sql(sqlite3* db, const std::string& sql, const std::string& place);
SqliteStatement prepare_sql(sqlite3* db, const std::string& sql, const std::string& place);
// Quotes an identifier for SQL ("a ""b""").
std::string quote_identifier(const std::string& name);

}  // namespace ebs::sqlite

// The repository store's code names them as its own.
namespace ebs::repository {
using sqlite::Database;
using sqlite::is_storage_error;
using sqlite::SqliteError;
using sqlite::Statement;
using sqlite::Transaction;
}  // namespace ebs::repository
