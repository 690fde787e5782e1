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

using namespace ebs::sqlite;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("ebs-wal-gathering-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

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

}  // namespace

TEST_CASE("the WAL gathering VFS: each commit is readable by another connection when COMMIT returns") {
  TempDir dir("readers");
  const fs::path path = dir.path / "db.sqlite";
  Database writer = open_writer(path);
  Database reader(path.string(), Database::Mode::read_only);
  const WalGatheringStats before = wal_gathering_stats();
  for (int k = 1; k <= 40; ++k) {
    commit_rows(writer, k, k % 3 == 0 ? 1 : 20, k % 3 == 0 ? 10 : 3000);
    CHECK(reader.scalar("SELECT max(k) FROM t", 0) == k);
  }
  const WalGatheringStats after = wal_gathering_stats();
  const uint64_t calls = after.wal_writes - before.wal_writes;
  const uint64_t writes = after.file_writes - before.file_writes;
  INFO("SQLite's WAL writes: " << calls << ", write calls made: " << writes);
  CHECK(calls > 500);  // ~20 pages a commit of 20 rows, two writes a frame
  CHECK(writes * 4 < calls);
}

TEST_CASE("the WAL gathering VFS: a process killed right after COMMIT keeps every commit") {
  SUBCASE("commits of many frames") {
    TempDir dir("frames");
    const fs::path path = dir.path / "db.sqlite";
    kill_after_commit(7, [&](const auto& committed) {
      Database db = open_writer(path);
      for (int k = 1;; ++k) {
        commit_rows(db, k, 20, 3000);
        committed(k);
      }
    });
    check_commits(path, 7, 20);
  }
  SUBCASE("one-frame commits that do not continue the file's last write") {
    // A reader's snapshot keeps the WAL from starting over, so the reopened writer appends at the
    // end of a WAL this file object never wrote: its first frame is not a continuation.
    TempDir dir("one-frame");
    const fs::path path = dir.path / "db.sqlite";
    kill_after_commit(5, [&](const auto& committed) {
      auto first = std::make_unique<Database>(open_writer(path));
      commit_rows(*first, 1, 1, 10);
      Database reader(path.string(), Database::Mode::read_only);
      reader.execute("BEGIN");
      if (reader.scalar("SELECT count(*) FROM t") != 1) throw std::runtime_error("no snapshot");
      committed(1);
      for (int k = 2;; ++k) {
        first = std::make_unique<Database>(open_writer(path));  // a new file object for the WAL
        commit_rows(*first, k, 1, 10);
        committed(k);
      }
    });
    check_commits(path, 5, 1);
  }
  SUBCASE("a transaction spilled by a small cache and written again (checksums rewritten)") {
    TempDir dir("rewrite");
    const fs::path path = dir.path / "db.sqlite";
    kill_after_commit(4, [&](const auto& committed) {
      Database db = open_writer(path);
      db.execute("PRAGMA cache_size=4");
      for (int k = 1;; ++k) {
        commit_rows(db, k, 300, 900, /*rewrite=*/true);
        committed(k);
      }
    });
    check_commits(path, 4, 300);
  }
}
