#include "actors/sinks/postgres/pg_connection.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "test/support/postgres_server.h"

using namespace ebs;
using namespace ebs::postgres;

TEST_CASE("server places never show a password") {
  CHECK(server_place("postgresql://ebs:secret@db.example:5433/alerts?sslmode=require") ==
        "postgresql://db.example:5433/alerts");
  CHECK(server_place("postgresql://127.0.0.1/ebs") == "postgresql://127.0.0.1/ebs");
  CHECK(is_postgres_url("postgres://h/d"));
  CHECK(is_postgres_url("postgresql://h/d"));
  CHECK_FALSE(is_postgres_url("repo.db"));
}

TEST_CASE("SQLSTATEs map to fault kinds") {
  CHECK(fault_kind("08006") == FaultKind::disconnected);
  CHECK(fault_kind("57P01") == FaultKind::disconnected);
  CHECK(fault_kind("53100") == FaultKind::overloaded);  // disk full
  CHECK(fault_kind("40P01") == FaultKind::overloaded);  // deadlock: retried
  CHECK(fault_kind("22021") == FaultKind::failed);      // bad data
  CHECK(fault_kind("23505") == FaultKind::failed);
}

TEST_CASE("bound parameters reach the server exactly") {
  Connection c(ebs::test::fresh_postgres_database("params"));
  Params p;
  const double awkward = 0.1 + 0.2;
  p.add(awkward).add(std::numeric_limits<double>::quiet_NaN()).add(static_cast<int64_t>(INT64_MIN));
  p.add(std::string_view("it's; DROP TABLE x --")).add(-std::numeric_limits<double>::infinity());
  Result r = c.execute("SELECT $1::float8 = 0.30000000000000004::float8, $2::float8 IS NULL, $3::bigint, $4::text, "
                       "$5::float8",
                       p);
  CHECK(text(r.get(), 0, 0) == "t");
  CHECK(text(r.get(), 0, 1) == "t");
  CHECK(integer(r.get(), 0, 2) == INT64_MIN);
  CHECK(text(r.get(), 0, 3) == "it's; DROP TABLE x --");
  CHECK(std::isinf(number(r.get(), 0, 4)));
}

TEST_CASE("errors name the server and tell a lost connection from a bad statement") {
  const std::string url = ebs::test::fresh_postgres_database("errors");
  Connection c(url);
  try {
    c.execute("SELECT * FROM no_such_table");
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.kind() == FaultKind::failed);
    CHECK(f.place() == server_place(url));
    CHECK(std::string(f.message()).find("no_such_table") != std::string::npos);
  }
  // The server ends this session: the next statement is a lost connection.
  Connection admin(url);
  Result pid = c.execute("SELECT pg_backend_pid()");
  Params p;
  p.add(integer(pid.get(), 0, 0));
  admin.execute("SELECT pg_terminate_backend($1::int)", p);
  try {
    c.execute("SELECT 1");
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.kind() == FaultKind::disconnected);
  }
  // Nobody listening: a disconnected fault (worth retrying).
  try {
    Connection nobody("postgresql://postgres@127.0.0.1:1/none");
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.kind() == FaultKind::disconnected);
    CHECK(f.place() == "postgresql://127.0.0.1:1/none");
  }
}
