#include "actors/common/sqlite/sqlite_db.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

using namespace ebs::sqlite;
namespace fs = std::filesystem;

TEST_CASE("a statement that fails clears its bindings: no later run reads a view bound for the failed one") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-sqlite-db-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    Database db((dir / "t.db").string(), Database::Mode::read_write);
    db.execute("CREATE TABLE t(x TEXT UNIQUE)");
    Statement insert = db.prepare("INSERT INTO t(x) VALUES(?1)");
    insert.bind(1, std::string_view("taken")).run();
    const std::string value = "taken";
    insert.bind_view(1, value);
    CHECK_THROWS_AS(insert.step(), SqliteError);
    // Not bound again: the parameter is NULL. Were the failed run's binding kept, this run would
    // read the view again (here still alive, so the unique constraint fails again; in the writer,
    // text that may be gone).
    CHECK(insert.run() == 1);
    CHECK(db.scalar("SELECT count(*) FROM t WHERE x IS NULL") == 1);
    CHECK(db.scalar("SELECT count(*) FROM t") == 2);
  }
  fs::remove_all(dir);
}

TEST_CASE("SQLite's memory statistics are off: no global mutex around each of its mallocs and frees") {
  // sqlite_db.cpp turns them off at load; were a library to initialize SQLite first, they would
  // stay on and count what the open connection below holds (~100 KiB). With them off, the heap
  // limits (sqlite3_soft/hard_heap_limit64, the heap-limit pragmas) do nothing.
  const fs::path dir = fs::temp_directory_path() / ("ebs-sqlite-memstat-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    Database db((dir / "t.db").string(), Database::Mode::read_write);
    db.execute("CREATE TABLE t(x TEXT)");
    db.prepare("INSERT INTO t(x) VALUES(?1)").bind(1, std::string_view("held")).run();
    CHECK(sqlite3_memory_used() == 0);
    sqlite3_int64 current = -1, highwater = -1;
    CHECK(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &current, &highwater, 0) == SQLITE_OK);
    CHECK(current == 0);
    CHECK(highwater == 0);
  }
  fs::remove_all(dir);
}
