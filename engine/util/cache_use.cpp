#include "engine/util/cache_use.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace fs = std::filesystem;

namespace ebs {

namespace {

// A folder is opened to be locked as a file is (flock takes a folder's descriptor too).
int open_entry(const fs::path& path) { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }

}  // namespace

std::optional<CacheHold> CacheHold::take(const fs::path& path) {
  const int fd = open_entry(path);
  if (fd < 0) return std::nullopt;
  int locked;
  do locked = ::flock(fd, LOCK_SH);
  while (locked != 0 && errno == EINTR);
  struct stat held {};
  // A removed file, or folder, has no link left once the prune let go.
  if ((locked != 0 && errno != ENOLCK && errno != EINVAL) || ::fstat(fd, &held) != 0 || held.st_nlink == 0) {
    ::close(fd);
    return std::nullopt;
  }
  return CacheHold(fd);
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

void mark_cache_use(const fs::path& path) {
  std::error_code ec;
  const auto marked = fs::last_write_time(path, ec);
  // utimensat with no times: "now", which needs write permission only (not ownership).
  if (!ec && fs::file_time_type::clock::now() - marked > kCacheUseMarkedEvery)
    ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
}

bool remove_unless_held(const fs::path& path) {
  const int fd = open_entry(path);
  if (fd < 0) return false;
  bool removed = false;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    std::error_code ec;
    fs::remove_all(path, ec);
    removed = !ec;
  }
  ::close(fd);
  return removed;
}

}  // namespace ebs
