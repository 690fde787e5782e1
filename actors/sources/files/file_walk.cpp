#include "actors/sources/files/file_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <set>
#include <filesystem>
#include <utility>

#include <spdlog/spdlog.h>

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
// Calls visit(name, is_folder) for each entry of the open folder `fd` a walk goes through: folders
// and links to folders (followed: a night's folder may be a link to where it is stored; a folder
// entered already is skipped where it is entered), and files (regular, or links to one); names
// starting with '.' (files and folders) are skipped. Listed through a duplicate of `fd`, so that
// the entries are those of the folder open() opens files in, whatever happens to its path meanwhile. With
// readdir's entry types, not std::filesystem's paths (~3,000 instructions an entry less): a stat
// only for a link, or where the file system gives no type. An unreadable folder has no entries.
template <class Visit, class Unreadable>
void list_folder(int fd, Visit&& visit, Unreadable&& unreadable) {
  if (fd < 0) return;
  const int listed = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (listed < 0) return unreadable(std::string_view("."), errno);
  DIR* dir = ::fdopendir(listed);
  if (!dir) {
    const int error = errno;
    ::close(listed);
    return unreadable(std::string_view("."), error);
  }
  ::rewinddir(dir);  // the duplicate shares the folder's read position: list from its start
  while (const dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    // Hidden entries, folders too (`.`, `..`, a NetApp `.snapshot` holding copies of the data, `.git`).
    if (name[0] == '.') continue;
    unsigned char type = entry->d_type;
    struct stat st;
    if (type == DT_UNKNOWN)
      type = ::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ? DT_UNKNOWN
             : S_ISDIR(st.st_mode)                            ? DT_DIR
             : S_ISLNK(st.st_mode)                            ? DT_LNK
             : S_ISREG(st.st_mode)                            ? DT_REG
                                                              : DT_UNKNOWN;
    if (type == DT_LNK) {
      if (::fstatat(fd, name, &st, 0) != 0) {
        unreadable(std::string_view(name), errno);  // a link to nothing (storage not mounted?)
        continue;
      }
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR)
      visit(std::string_view(name), true);
    else if (type == DT_REG)
      visit(std::string_view(name), false);
  }
  ::closedir(dir);  // closes `listed`, not `fd`
}

// Opens the folder `name` of the open folder `parent` (a link followed; AT_FDCWD: `name` is a
// path); -1 when `parent` did not open.
int open_folder_fd(int parent, const std::string& name) {
  if (parent == -1) return -1;
  return ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

std::optional<FileWalk::FolderId> folder_id(int fd) {
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) return std::nullopt;
  return FileWalk::FolderId{st.st_dev, st.st_ino};
}

size_t count_files(int fd, std::set<FileWalk::FolderId>& entered);

// The files a walk of the folder `name` of the open folder `parent` yields: 0 when it was entered
// already; nullopt when it does not open as a folder (a file).
std::optional<size_t> count_folder(int parent, const std::string& name,
                                   std::set<FileWalk::FolderId>& entered) {
  const FileWalk::FolderFd folder(open_folder_fd(parent, name));
  const std::optional<FileWalk::FolderId> id = folder_id(folder.get());
  if (!id) return std::nullopt;
  return entered.insert(*id).second ? count_files(folder.get(), entered) : 0;
}

// The files a walk of the open folder `fd` yields, without holding or sorting their names; the
// folders already `entered` are not entered again (each folder is read once, as by the walk).
size_t count_files(int fd, std::set<FileWalk::FolderId>& entered) {
  size_t n = 0;
  list_folder(
      fd,
      [&](std::string_view name, bool folder) {
        n += folder ? count_folder(fd, std::string(name), entered).value_or(0) : 1;
      },
      [](std::string_view, int) {});
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

std::optional<FileWalk::Folder> FileWalk::open_folder(std::string path, const std::string& name) {
  // Its descriptor, for open() and to list it: one more system call a folder, one path walk less a
  // file. Opened in the folder it is listed in, not by its path again.
  const int parent = stack_.empty() ? AT_FDCWD : stack_.back().fd.get();
  Folder folder{std::move(path), {}, 0, FolderFd(open_folder_fd(parent, name))};
  if (folder.fd.get() < 0) {
    if (errno != ENOENT) unreadable(folder.path, errno);  // ENOENT: removed since it was listed
    return std::nullopt;
  }
  if (const std::optional<FolderId> id = folder_id(folder.fd.get())) {
    auto [at, first] = entered_.try_emplace(*id, folder.path);
    if (!first) {
      if (!std::exchange(again_logged_, true))
        spdlog::warn("{}: {} is {} again (a link to a folder the walk reads under its other name): read once; "
                     "further ones are not logged",
                     place_, folder.path, at->second);
      return std::nullopt;
    }
  }
  list_folder(
      folder.fd.get(),
      [&](std::string_view entry_name, bool is_folder) {
        std::string entry;
        entry.reserve(entry_name.size() + 1);
        entry += entry_name;
        if (is_folder) entry += '/';
        folder.entries.push_back(std::move(entry));
      },
      [&](std::string_view entry_name, int error) {
        unreadable(entry_name == "." ? folder.path : join_path(folder.path, std::string(entry_name)), error);
      });
  std::sort(folder.entries.begin(), folder.entries.end());
  return folder;
}

void FileWalk::unreadable(const std::string& path, int error) {
  if (std::exchange(unreadable_logged_, true)) return;
  spdlog::warn("{}: {} cannot be read ({}): its files are left out; further ones are not logged", place_, path,
               std::strerror(error));
}

std::optional<std::string> FileWalk::next() {
  if (first_) return std::exchange(first_, std::nullopt);
  switch (kind_) {
    case Kind::file:
      if (std::exchange(started_, true)) return std::nullopt;
      return path_;
    case Kind::glob:
      // A match that is a folder is walked as a folder path is (`/data/ztf/2026120*` names nights).
      while (true) {
        if (std::optional<std::string> file = next_in_folders()) return file;
        if (next_match_ >= matches_.size()) return std::nullopt;
        const std::string& match = matches_[next_match_++];
        struct stat st;
        if (::stat(match.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return match;
        if (std::optional<Folder> folder = open_folder(match, match)) stack_.push_back(std::move(*folder));
      }
    case Kind::folder:
      if (!std::exchange(started_, true)) {
        assert(stack_.empty());  // the top folder is opened by its path (AT_FDCWD)
        if (std::optional<Folder> top = open_folder(path_, path_)) stack_.push_back(std::move(*top));
      }
      return next_in_folders();
  }
  return std::nullopt;
}

std::optional<std::string> FileWalk::next_in_folders() {
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
    std::optional<Folder> folder = open_folder(std::move(path), entry.substr(0, entry.size() - 1));
    if (folder) stack_.push_back(std::move(*folder));  // invalidates `top`
  }
  return std::nullopt;
}

int FileWalk::open(const std::string& file, int flags) const {
  if (!stack_.empty()) {
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
  entered_.clear();
}

size_t FileWalk::count() const {
  if (kind_ == Kind::file) return 1;
  if (kind_ == Kind::glob) {
    size_t n = 0;
    std::set<FolderId> entered;
    // A match that is no folder is a file (or gone since: the walk gives it, and its read says why).
    for (const std::string& match : matches_) n += count_folder(AT_FDCWD, match, entered).value_or(1);
    return n;
  }
  // The top folder's entries, when the walk holds them (it has not left it), are not listed again.
  const bool held = !stack_.empty() && stack_.front().path == path_;
  const FolderFd top(held ? -1 : open_folder_fd(AT_FDCWD, path_));
  const int fd = held ? stack_.front().fd.get() : top.get();
  std::set<FolderId> entered;
  if (const std::optional<FolderId> id = folder_id(fd)) entered.insert(*id);
  if (!held) return count_files(fd, entered);
  size_t n = 0;
  for (const std::string& entry : stack_.front().entries) {
    n += entry.back() != '/' ? 1 : count_folder(fd, entry.substr(0, entry.size() - 1), entered).value_or(0);
  }
  return n;
}

}  // namespace ebs
