// A thin RAII layer over libpq for the PostgreSQL repository: a connection, statements with bound
// parameters (text format; SQL never carries a value), results, and faults that tell a lost
// connection (`disconnected`: reconnect and retry) from a full disk or exhausted server
// (`overloaded`) and from a statement or data error (`failed`). Every fault names the server as
// postgresql://HOST:PORT/DATABASE (never the password).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/util/fault.h"

namespace ebs::postgres {

struct ConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultClearer>;

// Whether `url` names a PostgreSQL server (postgresql:// or postgres://).
bool is_postgres_url(std::string_view url);
// The URL without user and password: what errors name.
std::string server_place(std::string_view url);
// The fault kind for an SQLSTATE: class 08 and server shutdowns are `disconnected`, class 53
// (disk full, out of memory, too many connections), deadlocks and serialization failures
// `overloaded`, the rest `failed`.
FaultKind fault_kind(std::string_view sqlstate);

// Bound parameters, sent as text: integers in decimal, doubles in shortest round-trip form (NaN
// as NULL, like the SQLite writer), strings as they are.
class Params {
 public:
  Params& add(int64_t value);
  Params& add(double value);
  Params& add(std::string_view text);
  Params& add_null();
  size_t size() const { return text_.size(); }
  void clear();
  // libpq's view: one C string per parameter, nullptr for NULL.
  const char* const* values() const;

 private:
  std::vector<std::string> text_;
  std::vector<bool> null_;
  mutable std::vector<const char*> pointers_;
};

class Connection {
 public:
  // Connects; a server that cannot be reached raises a `disconnected` Fault. `application` names
  // the client in pg_stat_activity.
  explicit Connection(const std::string& url, const std::string& application = "ebs-flow");

  const std::string& place() const { return place_; }
  bool alive() const { return PQstatus(connection_.get()) == CONNECTION_OK; }
  PGconn* get() const { return connection_.get(); }

  // Runs SQL without parameters (may hold several statements); raises a Fault on error.
  Result execute(const std::string& sql) const;
  // Runs one statement with bound parameters ($1, $2, ...).
  Result execute(const std::string& sql, const Params& params) const;

 private:
  Result check(PGresult* result, std::string_view sql) const;

  std::unique_ptr<PGconn, ConnectionCloser> connection_;
  std::string place_;
};

// Reading result cells (NULL reads as NaN / empty).
double number(const PGresult* result, int row, int column);
int64_t integer(const PGresult* result, int row, int column);
std::string_view text(const PGresult* result, int row, int column);

}  // namespace ebs::postgres
