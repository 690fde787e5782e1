#include "engine/util/cache_use.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

namespace fs = std::filesystem;

namespace ebs {

namespace {

// A folder is opened to be locked as a file is (flock takes a folder's descriptor too).
int open_entry(const fs::path& path) { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }

// Whether `fd` is still what `path` names: not removed (a link left) nor replaced. A lock is taken
// on what a path named when it was opened; what the path names may have changed since.
bool still_named(int fd, const fs::path& path) {
  struct stat opened {}, named {};
  return ::fstat(fd, &opened) == 0 && opened.st_nlink > 0 && ::lstat(path.c_str(), &named) == 0 &&
         opened.st_dev == named.st_dev && opened.st_ino == named.st_ino;
}

// Removes `path` when `fd`, opened on it, can be locked exclusively without waiting and is still
// what it names.
CacheRemoval remove_locked(int fd, const fs::path& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return CacheRemoval::held;
  if (!still_named(fd, path)) return CacheRemoval::gone;
  std::error_code ec;
  const auto count = fs::remove_all(path, ec);
  return ec ? CacheRemoval::failed : count > 0 ? CacheRemoval::removed : CacheRemoval::gone;
}

}  // namespace

std::optional<CacheHold> CacheHold::take(const fs::path& path) {
  const int fd = open_entry(path);
  if (fd < 0) return std::nullopt;
  int locked;
  do locked = ::flock(fd, LOCK_SH);
  while (locked != 0 && errno == EINTR);
  // A removed file, or folder, has no link left once the prune let go.
  if ((locked != 0 && errno != ENOLCK && errno != EINVAL) || !still_named(fd, path)) {
    ::close(fd);
    return std::nullopt;
  }
  return CacheHold(fd);
}

CacheRemoval CacheHold::remove(const fs::path& path) {
  if (fd_ < 0) return CacheRemoval::gone;
  const CacheRemoval removal = remove_locked(fd_, path);
  ::close(fd_);
  fd_ = -1;
  return removal;
}

CacheHold& CacheHold::operator=(CacheHold&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

CacheHold::~CacheHold() {
  if (fd_ >= 0) ::close(fd_);
}

std::string network_file_system_of_type(long type) {
  // linux/magic.h and the file systems' own headers (not all are in linux/magic.h).
  switch (static_cast<unsigned long>(type) & 0xFFFFFFFFUL) {
    case 0x6969: return "NFS";
    case 0x517B: return "SMB";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x73757245: return "Coda";
    case 0x5346414F: case 0x6B414653: return "AFS";
    case 0x00C36400: return "Ceph";
    case 0x0BD00BD0: return "Lustre";
    case 0x01161970: return "GFS2";
    case 0x7461636F: return "OCFS2";
    case 0x01021997: return "9P";
    case 0x20030528: return "OrangeFS";
    case 0x47504653: return "GPFS";
    case 0x65735546: return "FUSE (sshfs, GlusterFS ... may be remote)";
    default: return "";
  }
}

std::string network_file_system(const fs::path& path) {
  // A folder not made yet is where its nearest existing parent is.
  std::error_code ec;
  fs::path at = fs::absolute(path, ec);
  struct statfs about {};
  while (::statfs(at.c_str(), &about) != 0) {
    if (errno != ENOENT || !at.has_relative_path()) return "";
    at = at.parent_path();
  }
  return network_file_system_of_type(static_cast<long>(about.f_type));
}

void mark_cache_use(const fs::path& path) {
  std::error_code ec;
  const auto marked = fs::last_write_time(path, ec);
  // utimensat with no times: "now", which needs write permission only (not ownership).
  if (!ec && fs::file_time_type::clock::now() - marked > kCacheUseMarkedEvery)
    ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
}

CacheRemoval remove_unless_held(const fs::path& path) {
  const int fd = open_entry(path);
  if (fd < 0) return errno == ENOENT ? CacheRemoval::gone : CacheRemoval::failed;
  const CacheRemoval removal = remove_locked(fd, path);
  ::close(fd);
  return removal;
}

}  // namespace ebs
