// Checkpoints a WAL database from a thread and a connection of its own, so that the writer's
// commits do not wait for the bulk of one.
//
// SQLite's automatic checkpoint runs inside the COMMIT that leaves the WAL past
// wal_autocheckpoint pages: it copies the whole WAL into the database and fsyncs both, and every
// record waiting for that commit waits for the disk (a repository's latency tail:
// docs/performance.md, "The latency path"). Here the writer's automatic checkpoint is off. Past
// `pages`, a second connection runs PASSIVE checkpoints, which copy what is committed without
// taking the writer's lock. They cannot restart the WAL while the writer keeps committing (the
// writer starts the WAL over only when it begins a transaction with all of the WAL copied), so
// once they have left only a few frames, the writer's next commit copies those itself — a short
// checkpoint instead of the whole WAL — and its next transaction starts the WAL over.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "actors/common/sqlite/sqlite_db.h"

namespace ebs::sqlite {

class WalCheckpointer {
 public:
  // Takes over checkpointing of `writer`, a connection in WAL mode that outlives this object.
  WalCheckpointer(const Database& writer, int pages);
  // Stops the thread and gives checkpointing back to the writer (automatic, at `pages`).
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Checkpoint rounds that ran (for tests).
  uint64_t checkpoints() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void run();
  void checkpoint();

  const Database& writer_;
  const int pages_;
  // WAL frames the last background round left uncopied (the writer copies them when few).
  std::atomic<int> left_{1 << 30};
  Database connection_;  // opened by the thread, used only there
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool wanted_ = false;
  bool stop_ = false;
  bool warned_ = false;
  uint64_t checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace ebs::sqlite
