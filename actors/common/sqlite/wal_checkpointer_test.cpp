#include "actors/common/sqlite/wal_checkpointer.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

using namespace ebs::sqlite;
namespace fs = std::filesystem;

namespace {

// 200 commits of ~8 pages each (4 KiB pages): 6.4 MB through the WAL, a commit every `pause`
// at most (a sink commits every flush_interval_ms).
void write_commits(const Database& db, std::chrono::milliseconds pause = {}) {
  Statement insert = db.prepare("INSERT INTO t(v) VALUES(?1)");
  const std::string value(3000, 'x');
  for (int commit = 0; commit < 200; ++commit) {
    Transaction transaction(db);
    for (int row = 0; row < 10; ++row) insert.bind(1, value).run();
    transaction.commit();
    std::this_thread::sleep_for(pause);
  }
}

Database open_wal(const fs::path& path) {
  Database db(path.string(), Database::Mode::read_write);
  db.execute("PRAGMA journal_mode=WAL");
  db.execute("PRAGMA synchronous=NORMAL");
  db.execute("CREATE TABLE IF NOT EXISTS t(v TEXT)");
  return db;
}

}  // namespace

TEST_CASE("the WAL is checkpointed by the checkpointer's thread, not in the writer's commits") {
  const fs::path dir = fs::temp_directory_path() / ("ebs-wal-checkpointer-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path wal = dir / "a.db-wal";

  SUBCASE("past its page threshold, a checkpoint copies the WAL and the writer restarts it") {
    Database db = open_wal(dir / "a.db");
    WalCheckpointer checkpointer(db, 100);
    write_commits(db, std::chrono::milliseconds(5));
    // The thread runs when it runs: wait (generously) for it.
    for (int i = 0; i < 1000 && checkpointer.checkpoints() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(checkpointer.checkpoints() >= 1);
    // The WAL was started over after checkpoints: it never held what a WAL never checkpointed
    // holds after these commits (~2,450 frames, 10 MB; at least 1,500 pages, the case below).
    CHECK(fs::file_size(wal) < 1500 * 4096);
    CHECK(db.scalar("SELECT count(*) FROM t") == 2000);
  }
  SUBCASE("the writer's own automatic checkpoint is off while the checkpointer has it") {
    Database db = open_wal(dir / "a.db");
    WalCheckpointer checkpointer(db, 1 << 30);  // never reached
    write_commits(db);
    CHECK(checkpointer.checkpoints() == 0);
    // SQLite's default (1,000 pages) would have checkpointed and restarted the WAL long ago.
    CHECK(fs::file_size(wal) >= 1500 * 4096);
    Database reader((dir / "a.db").string(), Database::Mode::read_only);
    CHECK(reader.scalar("SELECT count(*) FROM t") == 2000);
  }
  fs::remove_all(dir);
}
