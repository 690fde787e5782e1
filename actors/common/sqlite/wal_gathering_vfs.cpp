#include "actors/common/sqlite/wal_gathering_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>

namespace ebs::sqlite {
namespace {

constexpr int kFrameHeaderBytes = 24;

std::atomic<uint64_t> wal_writes{0};
std::atomic<uint64_t> file_writes{0};
std::atomic<uint64_t> barrier_writes{0};
std::atomic<uint64_t> dropped_runs{0};

// One open file: ours in front, the default VFS's right behind it in the same allocation.
struct GatherFile {
  sqlite3_file base;
  sqlite3_file* real;
  bool is_wal;
  GatherFile* wal;  // a database file: its connection's WAL while open
  GatherFile* database;  // a WAL: the database file that points at it
  // The gathered run: `used` bytes to go at `start`; the next append continues at next_offset.
  unsigned char* run;
  size_t used;
  sqlite3_int64 start;
  sqlite3_int64 next_offset;
  sqlite3_int64 commit_page_offset;  // where the page of the last commit frame header goes
  int deferred_error;  // a write of the run that failed inside the barrier, for the next call
};

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
GatherFile* as_gather(sqlite3_file* file) { return reinterpret_cast<GatherFile*>(file); }
sqlite3_file* real_of(sqlite3_file* file) { return as_gather(file)->real; }

int write_run(GatherFile* file) {
  if (file->used == 0) return SQLITE_OK;
  file_writes.fetch_add(1, std::memory_order_relaxed);
  const int rc = file->real->pMethods->xWrite(file->real, file->run, static_cast<int>(file->used), file->start);
  file->used = 0;
  return rc;
}

// Before any call that must see the file as SQLite believes it is.
int settle(GatherFile* file) {
  if (file->deferred_error != SQLITE_OK) {
    const int rc = file->deferred_error;
    file->deferred_error = SQLITE_OK;
    file->used = 0;
    return rc;
  }
  return write_run(file);
}

// What is gathered when a write transaction ends was never committed (a commit leaves nothing
// gathered): the transaction rolled back. Written later it would land on frames that the next
// writer, maybe another connection, commits at the same offsets.
void drop_run(GatherFile* file) {
  if (file->used > 0) dropped_runs.fetch_add(1, std::memory_order_relaxed);
  file->used = 0;
  file->next_offset = -1;
  file->commit_page_offset = -1;
  file->deferred_error = SQLITE_OK;
}

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

int wal_write(GatherFile* file, const void* data, int amount, sqlite3_int64 offset) {
  wal_writes.fetch_add(1, std::memory_order_relaxed);
  const bool completes_commit = offset == file->commit_page_offset;
  if (amount == kFrameHeaderBytes)  // a frame header: bytes 4-7 are nonzero in a commit frame
    file->commit_page_offset =
        big_endian_u32(static_cast<const unsigned char*>(data) + 4) != 0 ? offset + kFrameHeaderBytes : -1;
  else if (completes_commit)
    file->commit_page_offset = -1;

  const bool appends = offset == file->next_offset && file->used + static_cast<size_t>(amount) <= kGatherBytes;
  if (!appends || file->deferred_error != SQLITE_OK) {
    // Not a continuation of the log's tail (an overwrite in place, a checksum rewrite, the WAL
    // header, the first write of this file object) or no room: what is gathered goes first.
    if (int rc = settle(file); rc != SQLITE_OK) return rc;
    if (offset != file->next_offset || static_cast<size_t>(amount) > kGatherBytes) {
      file->next_offset = offset + amount;
      file_writes.fetch_add(1, std::memory_order_relaxed);
      return file->real->pMethods->xWrite(file->real, data, amount, offset);
    }
  }
  if (file->run == nullptr) {
    file->run = static_cast<unsigned char*>(sqlite3_malloc64(kGatherBytes));
    if (file->run == nullptr) return SQLITE_IOERR_NOMEM;
  }
  if (file->used == 0) file->start = offset;
  std::memcpy(file->run + file->used, data, static_cast<size_t>(amount));
  file->used += static_cast<size_t>(amount);
  file->next_offset = offset + amount;
  // COMMIT must not return with any of its transaction still here.
  return completes_commit && amount != kFrameHeaderBytes ? write_run(file) : SQLITE_OK;
}

int x_close(sqlite3_file* f) {
  GatherFile* file = as_gather(f);
  int rc = file->is_wal ? settle(file) : SQLITE_OK;
  if (file->is_wal && file->database != nullptr) file->database->wal = nullptr;
  if (!file->is_wal && file->wal != nullptr) file->wal->database = nullptr;
  sqlite3_free(file->run);
  file->run = nullptr;
  const int close_rc = file->real->pMethods->xClose(file->real);
  return rc != SQLITE_OK ? rc : close_rc;
}

int x_read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  GatherFile* file = as_gather(f);
  if (file->is_wal)
    if (int rc = settle(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xRead(file->real, data, amount, offset);
}

int x_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  GatherFile* file = as_gather(f);
  if (file->is_wal) return wal_write(file, data, amount, offset);
  return file->real->pMethods->xWrite(file->real, data, amount, offset);
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  GatherFile* file = as_gather(f);
  if (file->is_wal) {
    if (int rc = settle(file); rc != SQLITE_OK) return rc;
    file->next_offset = -1;
  }
  return file->real->pMethods->xTruncate(file->real, size);
}

int x_sync(sqlite3_file* f, int flags) {
  GatherFile* file = as_gather(f);
  if (file->is_wal)
    if (int rc = settle(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xSync(file->real, flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  GatherFile* file = as_gather(f);
  if (file->is_wal)
    if (int rc = settle(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xFileSize(file->real, size);
}

int x_lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
int x_unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

int x_file_control(sqlite3_file* f, int op, void* arg) {
  GatherFile* file = as_gather(f);
  if (file->is_wal)
    if (int rc = settle(file); rc != SQLITE_OK) return rc;
  return file->real->pMethods->xFileControl(file->real, op, arg);
}

int x_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int x_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  sqlite3_file* real = real_of(f);
  if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return real->pMethods->xShmMap(real, region, size, extend, out);
}
constexpr int kWalWriteLock = 0;  // wal.c's WAL_WRITE_LOCK: the first shared-memory lock

int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  GatherFile* file = as_gather(f);
  if ((flags & SQLITE_SHM_UNLOCK) != 0 && offset == kWalWriteLock && file->wal != nullptr) drop_run(file->wal);
  sqlite3_file* real = file->real;
  if (real->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return real->pMethods->xShmLock(real, offset, n, flags);
}
// SQLite's barrier before it publishes WAL frames to readers: they must be in the file by then.
void x_shm_barrier(sqlite3_file* f) {
  GatherFile* file = as_gather(f);
  if (GatherFile* wal = file->wal; wal != nullptr && wal->deferred_error == SQLITE_OK && wal->used > 0) {
    barrier_writes.fetch_add(1, std::memory_order_relaxed);
    wal->deferred_error = write_run(wal);
  }
  if (file->real->pMethods->iVersion >= 2) file->real->pMethods->xShmBarrier(file->real);
}
int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  sqlite3_file* real = real_of(f);
  if (real->pMethods->iVersion < 2) return SQLITE_OK;
  return real->pMethods->xShmUnmap(real, delete_flag);
}
int x_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  sqlite3_file* real = real_of(f);
  *out = nullptr;
  if (real->pMethods->iVersion < 3 || as_gather(f)->is_wal) return SQLITE_OK;
  return real->pMethods->xFetch(real, offset, amount, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) {
  sqlite3_file* real = real_of(f);
  if (real->pMethods->iVersion < 3) return SQLITE_OK;
  return real->pMethods->xUnfetch(real, offset, page);
}

const sqlite3_io_methods kMethods = {
    3,         x_close,   x_read,      x_write,      x_truncate,         x_sync,
    x_file_size, x_lock,  x_unlock,    x_check_reserved_lock, x_file_control, x_sector_size,
    x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch,
    x_unfetch,
};

constexpr size_t kHeadBytes = (sizeof(GatherFile) + 15) / 16 * 16;

int x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  GatherFile* file = as_gather(f);
  std::memset(file, 0, sizeof(GatherFile));
  file->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kHeadBytes);
  file->next_offset = -1;
  file->commit_page_offset = -1;
  const int rc = real_vfs(vfs)->xOpen(real_vfs(vfs), name, file->real, flags, out_flags);
  if (rc != SQLITE_OK || file->real->pMethods == nullptr) {
    if (file->real->pMethods != nullptr) file->real->pMethods->xClose(file->real);
    file->base.pMethods = nullptr;  // so SQLite does not close it again
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  file->base.pMethods = &kMethods;
  file->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (file->is_wal && name != nullptr) {
    sqlite3_file* database = sqlite3_database_file_object(name);
    if (database != nullptr && database->pMethods == &kMethods) {
      file->database = as_gather(database);
      file->database->wal = file;
    }
  }
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return real_vfs(vfs)->xDelete(real_vfs(vfs), name, sync_dir);
}
int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return real_vfs(vfs)->xAccess(real_vfs(vfs), name, flags, out);
}
int x_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return real_vfs(vfs)->xFullPathname(real_vfs(vfs), name, size, out);
}
void* x_dl_open(sqlite3_vfs* vfs, const char* name) { return real_vfs(vfs)->xDlOpen(real_vfs(vfs), name); }
void x_dl_error(sqlite3_vfs* vfs, int size, char* out) { real_vfs(vfs)->xDlError(real_vfs(vfs), size, out); }
void (*x_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return real_vfs(vfs)->xDlSym(real_vfs(vfs), handle, symbol);
}
void x_dl_close(sqlite3_vfs* vfs, void* handle) { real_vfs(vfs)->xDlClose(real_vfs(vfs), handle); }
int x_randomness(sqlite3_vfs* vfs, int size, char* out) {
  return real_vfs(vfs)->xRandomness(real_vfs(vfs), size, out);
}
int x_sleep(sqlite3_vfs* vfs, int microseconds) { return real_vfs(vfs)->xSleep(real_vfs(vfs), microseconds); }
int x_current_time(sqlite3_vfs* vfs, double* out) { return real_vfs(vfs)->xCurrentTime(real_vfs(vfs), out); }
int x_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  return real_vfs(vfs)->xGetLastError(real_vfs(vfs), size, out);
}
int x_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return real_vfs(vfs)->xCurrentTimeInt64(real_vfs(vfs), out);
}

sqlite3_vfs* make_vfs() {
  static sqlite3_vfs vfs{};
  sqlite3_initialize();
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(kHeadBytes) + real->szOsFile;
  vfs.mxPathname = real->mxPathname;
  vfs.zName = "ebs-wal-gathering";
  vfs.pAppData = real;
  vfs.xOpen = x_open;
  vfs.xDelete = x_delete;
  vfs.xAccess = x_access;
  vfs.xFullPathname = x_full_pathname;
  vfs.xDlOpen = x_dl_open;
  vfs.xDlError = x_dl_error;
  vfs.xDlSym = x_dl_sym;
  vfs.xDlClose = x_dl_close;
  vfs.xRandomness = x_randomness;
  vfs.xSleep = x_sleep;
  vfs.xCurrentTime = x_current_time;
  vfs.xGetLastError = x_get_last_error;
  vfs.xCurrentTimeInt64 = real->iVersion >= 2 && real->xCurrentTimeInt64 ? x_current_time_int64 : nullptr;
  if (vfs.xCurrentTimeInt64 == nullptr) vfs.iVersion = 1;
  sqlite3_vfs_register(&vfs, 0);
  return &vfs;
}

}  // namespace

const char* wal_gathering_vfs() {
  static sqlite3_vfs* vfs = make_vfs();
  return vfs->zName;
}

WalGatheringStats wal_gathering_stats() {
  return {wal_writes.load(std::memory_order_relaxed), file_writes.load(std::memory_order_relaxed),
          barrier_writes.load(std::memory_order_relaxed), dropped_runs.load(std::memory_order_relaxed)};
}

}  // namespace ebs::sqlite
