// Entries of an on-disk cache that runs use and prunes remove (a catalogue's builds, a node's
// shipped files): a run holds an entry with a shared flock for as long as it uses it; a prune
// removes only an entry it can lock exclusively without waiting, so never one in use; and an
// entry's modification time says when a run last used it, marked at most daily (no write at every
// run; where the run cannot write, times stay as they are).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>

namespace ebs {

// How often a use is marked: an entry's time is at most this much older than its last use.
inline constexpr auto kCacheUseMarkedEvery = std::chrono::hours(24);

// A shared lock on a cache entry (a file or a folder), released when destroyed.
class CacheHold {
 public:
  // Holds `path`, waiting while a prune holds it: nothing when it is not there, or was removed
  // meanwhile (the prune's unlink came first). A file system without locks (ENOLCK on some NFS
  // mounts) gives a hold without that protection.
  static std::optional<CacheHold> take(const std::filesystem::path& path);

  CacheHold(CacheHold&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  CacheHold& operator=(CacheHold&& other) noexcept;
  CacheHold(const CacheHold&) = delete;
  CacheHold& operator=(const CacheHold&) = delete;
  ~CacheHold();

 private:
  explicit CacheHold(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Marks `path` used now when its last mark is older than kCacheUseMarkedEvery.
void mark_cache_use(const std::filesystem::path& path);

// Removes the entry `path` (a file, or a folder with everything in it) unless a run holds it,
// under an exclusive lock: a run taking it meanwhile waits for the removal and then finds it gone.
// False when it is held, or cannot be removed.
bool remove_unless_held(const std::filesystem::path& path);

}  // namespace ebs
