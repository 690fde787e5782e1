#include "actors/common/sqlite/wal_gathering_vfs.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "actors/common/sqlite/sqlite_db.h"
#include "test/support/temp_dir.h"

using namespace ebs::sqlite;
using ebs::test_support::TempDir;
namespace fs = std::filesystem;

namespace {


Database open_writer(const fs::path& path) {
  Database db(path.string(), Database::Mode::read_write, 2000, wal_gathering_vfs());
  db.execute("PRAGMA journal_mode=WAL");
  db.execute("PRAGMA synchronous=NORMAL");
  db.execute("CREATE TABLE IF NOT EXISTS t(k INTEGER, v TEXT)");
  return db;
}

// One commit `k` of `rows` rows of `bytes` each; with `rewrite`, every row is then updated in the
// same transaction, so that pages the small cache spilled into the WAL are written again in place
// and SQLite rewrites the frames' checksums at the commit.
void commit_rows(const Database& db, int k, int rows, size_t bytes, bool rewrite = false) {
  Transaction transaction(db);
  Statement insert = db.prepare("INSERT INTO t(k, v) VALUES(?1, ?2)");
  for (int row = 0; row < rows; ++row) insert.bind(1, int64_t{k}).bind(2, std::string(bytes, 'a' + row % 26)).run();
  if (rewrite) db.execute("UPDATE t SET v = upper(v) WHERE k = " + std::to_string(k));
  transaction.commit();
}

// Each commit's rows as `commit_rows` wrote them: commits 1..last, nothing after.
void check_commits(const fs::path& path, int last, int rows) {
  Database db(path.string(), Database::Mode::read_write);  // the default VFS: recovers the WAL
  CHECK(db.scalar("SELECT max(k) FROM t", 0) == last);
  CHECK(db.scalar("SELECT count(DISTINCT k) FROM t", 0) == last);
  CHECK(db.scalar("SELECT count(*) FROM t", 0) == int64_t{last} * rows);
  Statement integrity = db.prepare("PRAGMA integrity_check");
  REQUIRE(integrity.step());
  CHECK(integrity.text(0) == "ok");
}

// Runs `writer` in a child process that reports each commit through a pipe and waits for a go;
// the parent kills it with SIGKILL right after commit `kill_after` returned — nothing else runs
// in the child between the COMMIT and the kill, so what the commit left gathered would be lost.
void kill_after_commit(int kill_after, const std::function<void(const std::function<void(int)>&)>& writer) {
  int done[2], go[2];
  REQUIRE(::pipe(done) == 0);
  REQUIRE(::pipe(go) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(done[0]);
    ::close(go[1]);
    try {
      writer([&](int k) {
        if (::write(done[1], &k, sizeof k) != sizeof k) ::_exit(3);
        char byte;
        if (::read(go[0], &byte, 1) != 1) ::_exit(4);
      });
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  ::close(done[1]);
  ::close(go[0]);
  int k = 0;
  while (::read(done[0], &k, sizeof k) == sizeof k) {
    if (k == kill_after) {
      ::kill(child, SIGKILL);
      break;
    }
    const char byte = 1;
    REQUIRE(::write(go[1], &byte, 1) == 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(done[0]);
  ::close(go[1]);
  REQUIRE(k == kill_after);
  CHECK(WIFSIGNALED(status));
}


// Commits of `rows` rows of `bytes` (with a cache of `cache_pages`, each spilled and written
// again) until the kill right after commit `kill_after`; then exactly those commits are there.
void check_commits_survive_kill(const std::string& name, int kill_after, int rows, size_t bytes, int cache_pages = 0) {
  TempDir dir(name);
  const fs::path path = dir.path() / "db.sqlite";
  kill_after_commit(kill_after, [&](const auto& committed) {
    Database db = open_writer(path);
    if (cache_pages > 0) db.execute("PRAGMA cache_size=" + std::to_string(cache_pages));
    for (int k = 1;; ++k) {
      commit_rows(db, k, rows, bytes, /*rewrite=*/cache_pages > 0);
      committed(k);
    }
  });
  check_commits(path, kill_after, rows);
}

}  // namespace

TEST_CASE("the WAL gathering VFS: each commit is in the file, readable by another connection, when COMMIT returns") {
  TempDir dir("wal-gathering-readers");
  const fs::path path = dir.path() / "db.sqlite";
  Database writer = open_writer(path);
  Database reader(path.string(), Database::Mode::read_only);
  const WalGatheringStats before = wal_gathering_stats();
  for (int k = 1; k <= 40; ++k) {
    commit_rows(writer, k, k % 3 == 0 ? 1 : 20, k % 3 == 0 ? 10 : 3000);
    CHECK(reader.scalar("SELECT max(k) FROM t", 0) == k);
  }
  const WalGatheringStats appended = wal_gathering_stats();
  const uint64_t calls = appended.wal_writes - before.wal_writes;
  const uint64_t writes = appended.file_writes - before.file_writes;
  INFO("SQLite's WAL writes: " << calls << ", write calls made: " << writes);
  CHECK(calls > 1000);  // ~20 pages a commit of 20 rows, two writes a frame
  CHECK(writes * 4 < calls);
  // Spilled transactions: frames written before the commit, some written again in place.
  writer.execute("PRAGMA cache_size=4");
  for (int k = 41; k <= 60; ++k) {
    commit_rows(writer, k, 60, 900, /*rewrite=*/true);
    CHECK(reader.scalar("SELECT max(k) FROM t", 0) == k);
  }
  const WalGatheringStats after = wal_gathering_stats();
  // The commit's own write put it in the file: the barrier's net had nothing left to write.
  CHECK(after.barrier_writes == before.barrier_writes);
}

TEST_CASE("the WAL gathering VFS: frames of a rolled-back transaction never land on another writer's commit") {
  // A spilled transaction right after the WAL started over (no committed frame to read back
  // while rolling back) leaves its frames gathered; another connection then commits frames at the
  // same offsets. What was gathered must be dropped, not written over them later.
  TempDir dir("wal-gathering-rollback");
  const fs::path path = dir.path() / "db.sqlite";
  Database writer = open_writer(path);
  writer.execute("PRAGMA wal_autocheckpoint=0");
  commit_rows(writer, 0, 1, 10);
  writer.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  writer.execute("PRAGMA cache_size=4");
  const WalGatheringStats before = wal_gathering_stats();
  {
    Transaction rolled_back(writer);
    Statement insert = writer.prepare("INSERT INTO t(k, v) VALUES(-1, ?1)");
    for (int row = 0; row < 40; ++row) insert.bind(1, std::string(900, 'x')).run();
  }  // rolled back
  CHECK(wal_gathering_stats().dropped_runs > before.dropped_runs);
  Database other(path.string(), Database::Mode::read_write);  // another process, e.g. `repository archive`
  commit_rows(other, 1, 40, 900);
  CHECK(writer.scalar("SELECT count(*) FROM t WHERE k = 1", 0) == 40);  // the writer reads again
  CHECK(writer.scalar("SELECT count(*) FROM t WHERE k = -1", 0) == 0);
  commit_rows(writer, 2, 5, 900);
  Database fresh(path.string(), Database::Mode::read_only);
  Statement integrity = fresh.prepare("PRAGMA integrity_check");
  REQUIRE(integrity.step());
  CHECK(integrity.text(0) == "ok");
  CHECK(fresh.scalar("SELECT count(*) FROM t", 0) == 1 + 40 + 5);
}

TEST_CASE("the WAL gathering VFS: a process killed right after COMMIT keeps every commit") {
  SUBCASE("commits of many frames") { check_commits_survive_kill("wal-gathering-frames", 7, 20, 3000); }
  SUBCASE("one-frame commits that do not continue the file's last write") {
    // A reader's snapshot keeps the WAL from starting over, so the reopened writer appends at the
    // end of a WAL this file object never wrote: its first frame is not a continuation.
    TempDir dir("wal-gathering-one-frame");
    const fs::path path = dir.path() / "db.sqlite";
    kill_after_commit(5, [&](const auto& committed) {
      auto writer = std::make_unique<Database>(open_writer(path));
      commit_rows(*writer, 1, 1, 10);
      Database reader(path.string(), Database::Mode::read_only);
      reader.execute("BEGIN");
      if (reader.scalar("SELECT count(*) FROM t") != 1) throw std::runtime_error("no snapshot");
      committed(1);
      for (int k = 2;; ++k) {
        writer = std::make_unique<Database>(open_writer(path));  // a new file object for the WAL
        commit_rows(*writer, k, 1, 10);
        committed(k);
      }
    });
    check_commits(path, 5, 1);
  }
  SUBCASE("a transaction spilled by a small cache and written again (checksums rewritten)") {
    check_commits_survive_kill("wal-gathering-rewrite", 4, 300, 900, /*cache_pages=*/4);
  }
}
