#include "actors/sources/files/file_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <utility>

#include "engine/util/fault.h"

namespace ebs {

namespace fs = std::filesystem;

namespace {
// `folder / name` for a bare entry name (what open_folder lists: no '/' but the trailing one it
// puts after a folder's name): a separator unless the folder is empty or ends with one, as
// std::filesystem::path joins these, without parsing either into components (~4,000
// instructions a file). Not path's join for any name: an absolute name would give "a//abs"
// where path gives "/abs".
std::string join_path(const std::string& folder, const std::string& name) {
  assert(!name.empty() && name.find('/') >= name.size() - 1);
  std::string path;
  path.reserve(folder.size() + 1 + name.size());
  path += folder;
  if (!folder.empty() && folder.back() != '/') path += '/';
  path += name;
  return path;
}
// Calls visit(name, is_folder) for each entry of the folder `path` a walk goes through: folders
// (not links to folders, as recursive_directory_iterator does not follow them) and files (regular,
// or links to one) whose names do not start with '.'. With readdir's entry types, not
// std::filesystem's paths (~3,000 instructions an entry less): a stat only for a link, or where
// the file system gives no type. An unreadable folder has no entries.
template <class Visit>
void list_folder(const std::string& path, Visit&& visit) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return;
  while (const dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    unsigned char type = entry->d_type;
    struct stat st;
    if (type == DT_UNKNOWN)
      type = ::fstatat(::dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ? DT_UNKNOWN
             : S_ISDIR(st.st_mode)                                    ? DT_DIR
             : S_ISLNK(st.st_mode)                                    ? DT_LNK
             : S_ISREG(st.st_mode)                                    ? DT_REG
                                                                      : DT_UNKNOWN;
    if (type == DT_DIR) {
      visit(std::string_view(name), true);
    } else if (name[0] != '.') {
      if (type == DT_LNK) type = ::fstatat(::dirfd(dir), name, &st, 0) == 0 && S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      if (type == DT_REG) visit(std::string_view(name), false);
    }
  }
  ::closedir(dir);
}

// The files a walk of the folder `path` yields, without holding or sorting their names.
size_t count_files(const std::string& path) {
  size_t n = 0;
  list_folder(path, [&](std::string_view name, bool folder) {
    n += folder ? count_files(join_path(path, std::string(name))) : 1;
  });
  return n;
}

}  // namespace

FileWalk::FileWalk(std::string path, std::string place) : path_(std::move(path)), place_(std::move(place)) {
  std::error_code ec;
  if (path_.find_first_of("*?[") != std::string::npos) {
    kind_ = Kind::glob;
    glob_t g{};
    if (::glob(path_.c_str(), 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) matches_.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    std::sort(matches_.begin(), matches_.end());
  } else if (fs::is_directory(path_, ec)) {
    kind_ = Kind::folder;
  } else if (!fs::exists(path_, ec)) {
    fail(place_, path_ + ": no such file or directory");
  }
  // The first file, kept for the first next(): the folders listed to find it are not listed again.
  first_ = next();
  if (!first_) fail(place_, path_ + ": no files");
}

FileWalk::FolderFd& FileWalk::FolderFd::operator=(FolderFd&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

FileWalk::FolderFd::~FolderFd() {
  if (fd_ >= 0) ::close(fd_);
}

FileWalk::Folder FileWalk::open_folder(const std::string& path) const {
  // Its descriptor, for open(): one more system call a folder, one path walk less a file.
  Folder folder{path, {}, 0, FolderFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))};
  list_folder(path, [&](std::string_view name, bool is_folder) {
    std::string entry;
    entry.reserve(name.size() + 1);
    entry += name;
    if (is_folder) entry += '/';
    folder.entries.push_back(std::move(entry));
  });
  std::sort(folder.entries.begin(), folder.entries.end());
  return folder;
}

std::optional<std::string> FileWalk::next() {
  if (first_) return std::exchange(first_, std::nullopt);
  switch (kind_) {
    case Kind::file:
      if (std::exchange(started_, true)) return std::nullopt;
      return path_;
    case Kind::glob:
      if (next_match_ >= matches_.size()) return std::nullopt;
      return matches_[next_match_++];
    case Kind::folder:
      if (!std::exchange(started_, true)) stack_.push_back(open_folder(path_));
      while (!stack_.empty()) {
        Folder& top = stack_.back();
        if (top.next >= top.entries.size()) {
          stack_.pop_back();
          continue;
        }
        const std::string& entry = top.entries[top.next++];
        std::string path = join_path(top.path, entry);
        if (entry.back() != '/') return path;
        path.pop_back();
        stack_.push_back(open_folder(path));  // invalidates `top`
      }
      return std::nullopt;
  }
  return std::nullopt;
}

int FileWalk::open(const std::string& file, int flags) const {
  if (kind_ == Kind::folder && !stack_.empty()) {
    const Folder& folder = stack_.back();
    if (folder.fd.get() >= 0 && folder.next > 0) {
      const std::string& name = folder.entries[folder.next - 1];
      // The last file next() gave, when `file` is it (as join_path made it).
      const size_t separator = !folder.path.empty() && folder.path.back() != '/';
      if (file.size() == folder.path.size() + separator + name.size() &&
          file.compare(0, folder.path.size(), folder.path) == 0 && (!separator || file[folder.path.size()] == '/') &&
          file.compare(folder.path.size() + separator, name.size(), name) == 0)
        return ::openat(folder.fd.get(), name.c_str(), flags);
    }
  }
  return ::open(file.c_str(), flags);
}

void FileWalk::restart() {
  first_.reset();
  started_ = false;
  next_match_ = 0;
  stack_.clear();
}

size_t FileWalk::count() const {
  if (kind_ == Kind::file) return 1;
  if (kind_ == Kind::glob) return matches_.size();
  // The top folder's entries, when the walk holds them (it has not left it), are not listed again.
  if (stack_.empty() || stack_.front().path != path_) return count_files(path_);
  size_t n = 0;
  for (const std::string& entry : stack_.front().entries)
    n += entry.back() == '/' ? count_files(join_path(path_, entry.substr(0, entry.size() - 1))) : 1;
  return n;
}

}  // namespace ebs
