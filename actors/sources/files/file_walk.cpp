#include "actors/sources/files/file_walk.h"

#include <glob.h>

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
  if (!next()) fail(place_, path_ + ": no files");
  restart();
}

FileWalk::Folder FileWalk::open_folder(const std::string& path) const {
  Folder folder{path, {}, 0};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    std::string name = entry.path().filename().string();
    // The entry's type as the folder listing gave it (no system call), but a symbolic link's
    // target's (one stat); as recursive_directory_iterator, links to folders are not followed.
    const bool link = entry.is_symlink(ec);
    if (!link && entry.is_directory(ec)) folder.entries.push_back(name + '/');
    else if ((link ? entry.status(ec).type() == fs::file_type::regular : entry.is_regular_file(ec)) && name[0] != '.')
      folder.entries.push_back(std::move(name));
  }
  std::sort(folder.entries.begin(), folder.entries.end());
  return folder;
}

std::optional<std::string> FileWalk::next() {
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

void FileWalk::restart() {
  started_ = false;
  next_match_ = 0;
  stack_.clear();
}

size_t FileWalk::count() const {
  if (kind_ == Kind::file) return 1;
  if (kind_ == Kind::glob) return matches_.size();
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(path_, ec))
    if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.') ++n;
  return n;
}

}  // namespace ebs
