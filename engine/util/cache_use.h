// Entries of an on-disk cache that runs use and prunes remove (a catalogue's builds, a node's
// shipped files): a run holds an entry with a shared flock for as long as it uses it; a prune
// removes only an entry it can lock exclusively without waiting, so never one in use; and an
// entry's modification time says when a run last used it, marked at most daily (no write at every
// run; where the run cannot write, times stay as they are).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace ebs {

// How often a use is marked: an entry's time is at most this much older than its last use.
inline constexpr auto kCacheUseMarkedEvery = std::chrono::hours(24);

// What came of removing an entry.
enum class CacheRemoval {
  removed,
  held,    // a run holds it (or another prune is removing it): kept
  gone,    // not there, or no longer what the path names (removed by another meanwhile)
  failed,  // there, but it cannot be opened or removed (permissions)
};

// A shared lock on a cache entry (a file or a folder), released when destroyed.
class CacheHold {
 public:
  // Holds `path`, waiting while a prune holds it: nothing when it is not there, or was removed
  // meanwhile (the prune's unlink came first), or `path` no longer names what was opened. A file
  // system without locks (ENOLCK on some NFS mounts) gives a hold without that protection; a
  // cache on a network file system is not pruned (engine/cluster/shipped_files.h).
  static std::optional<CacheHold> take(const std::filesystem::path& path);

  // Lets go of the entry and removes it, `path` (what it was taken on), unless another holds it
  // too or `path` names something else now (a corrupt object found by the run that holds it).
  CacheRemoval remove(const std::filesystem::path& path);

  CacheHold(CacheHold&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  CacheHold& operator=(CacheHold&& other) noexcept;
  CacheHold(const CacheHold&) = delete;
  CacheHold& operator=(const CacheHold&) = delete;
  ~CacheHold();

 private:
  explicit CacheHold(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The name of the network file system `path` is on (NFS, SMB/CIFS, AFS, Ceph, Lustre, 9P, FUSE
// such as sshfs ...), empty when it is local or cannot be told: flock there is local to a machine,
// or refused, so a prune there could remove what a run on another machine uses.
std::string network_file_system(const std::filesystem::path& path);
// The same from statfs's f_type.
std::string network_file_system_of_type(long type);

// Marks `path` used now when its last mark is older than kCacheUseMarkedEvery.
void mark_cache_use(const std::filesystem::path& path);

// Removes the entry `path` (a file, or a folder with everything in it) unless a run holds it,
// under an exclusive lock: a run taking it meanwhile waits for the removal and then finds it gone.
// What is removed is what the lock was taken on: `path` is checked to name it still (same device
// and inode, not unlinked), so an entry another removed, or put in place anew, meanwhile is not.
CacheRemoval remove_unless_held(const std::filesystem::path& path);

}  // namespace ebs
