#include "actors/common/sqlite/wal_checkpointer.h"

#include <spdlog/spdlog.h>

namespace ebs::sqlite {

namespace {
// Frames (4 KiB pages) the writer copies itself once the background rounds are this close: the
// few commits since the last round.
constexpr int kWriterFinishesFrames = 512;
}  // namespace

WalCheckpointer::WalCheckpointer(const Database& writer, int pages) : writer_(writer), pages_(pages) {
  // Replaces the automatic checkpoint, which is itself a WAL hook.
  sqlite3_wal_hook(writer_.get(), &WalCheckpointer::on_commit, this);
  thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_wal_autocheckpoint(writer_.get(), pages_);
}

uint64_t WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

// On the writer's thread, after each commit: wakes the thread, or copies the last few frames.
int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (wal_pages < checkpointer->pages_) return SQLITE_OK;
  if (checkpointer->left_.load() <= kWriterFinishesFrames) {
    // Busy when the thread's own round is on: the next commit tries again.
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK) {
      checkpointer->left_.store(1 << 30);
      std::lock_guard lock(checkpointer->mutex_);
      ++checkpointer->checkpoints_;
    }
    return SQLITE_OK;
  }
  {
    std::lock_guard lock(checkpointer->mutex_);
    checkpointer->wanted_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || wanted_; });
    if (stop_) return;
    wanted_ = false;
    lock.unlock();
    checkpoint();
    lock.lock();
  }
}

void WalCheckpointer::checkpoint() {
  try {
    if (!connection_) {
      connection_ = Database(writer_.path(), Database::Mode::read_write);
      // Reading the header tells the new connection that the database is in WAL mode; until
      // then a checkpoint does nothing.
      connection_.scalar("PRAGMA schema_version");
    }
  } catch (const SqliteError& e) {
    if (!warned_) spdlog::warn("{}: cannot open a connection to checkpoint the WAL: {}", e.place(), e.message());
    warned_ = true;
    return;
  }
  // A round copies what was committed when it began; commits meanwhile leave more. A few rounds
  // catch up (each is shorter than the last) until the writer can finish.
  for (int round = 0; round < 4; ++round) {
    int log = 0, copied = 0;  // frames in the WAL, and of them in the database now
    int rc = sqlite3_wal_checkpoint_v2(connection_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK) {
      // Busy (another checkpoint) or the disk: the WAL just grows until the next try; a disk
      // that fails stalls the writer's own commits soon enough.
      if (rc != SQLITE_BUSY && !warned_)
        spdlog::warn("{}: WAL checkpoint failed: {}", writer_.path(), sqlite3_errmsg(connection_.get()));
      warned_ = warned_ || rc != SQLITE_BUSY;
      return;
    }
    {
      std::lock_guard lock(mutex_);
      ++checkpoints_;
    }
    left_.store(log - copied);
    if (log - copied <= kWriterFinishesFrames) return;
  }
}

}  // namespace ebs::sqlite
