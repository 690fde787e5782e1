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
