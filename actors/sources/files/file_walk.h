// The input files of a file source, one at a time, without holding the whole list: a folder is
// walked depth first with each folder's entries sorted, so only the folders on the current path
// are held, and the files come in the name order of their full paths (a folder sorts as its name
// plus '/'), the order a sorted list of every path would have. A million alert files in folders of
// a thousand hold a thousand names, not a million paths (~100 MB).
//
// `path` is a file, a folder (recursive, links to folders followed, each folder read once however
// many names lead to it; files and folders whose names start with '.' are skipped) or a glob (glob(3)
// returns its matches together: a glob's list is held; a match that is a folder is walked). Not
// thread-safe: one per source instance.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ebs {

class FileWalk {
 public:
  // Raises a Fault at `place` when `path` does not exist or holds no file.
  FileWalk(std::string path, std::string place);

  // The next file, nullopt after the last.
  std::optional<std::string> next();
  // Opens `file`, the path the last next() gave, with open(2)'s `flags`: in a folder walk relative
  // to its folder, which the walk holds open while it is in it (the kernel then looks one name up,
  // not every folder of the path: ~0.3 us a file here); otherwise, or for any other path, by the
  // path. The descriptor, or -1 with errno set.
  int open(const std::string& file, int flags) const;
  // Back to the first file.
  void restart();
  // How many files the walk yields, for progress: a count of its own that holds and sorts nothing,
  // but takes the top folder's entries from the walk while it holds them (a flat folder of alert
  // files is listed once, by the constructor's search for a first file).
  size_t count() const;

  // Where a folder is (st_dev, st_ino): reached again through a link, it is the same folder.
  struct FolderId {
    dev_t device = 0;
    ino_t inode = 0;
    auto operator<=>(const FolderId&) const = default;
  };
  // A folder's descriptor, closed with the object (when the walk leaves the folder); -1 when it
  // did not open.
  class FolderFd {
   public:
    explicit FolderFd(int fd = -1) : fd_(fd) {}
    FolderFd(FolderFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    FolderFd& operator=(FolderFd&& other) noexcept;
    FolderFd(const FolderFd&) = delete;
    FolderFd& operator=(const FolderFd&) = delete;
    ~FolderFd();
    int get() const { return fd_; }

   private:
    int fd_;
  };

 private:
  struct Folder {
    std::string path;
    std::vector<std::string> entries;  // sorted; a folder's entry ends with '/'
    size_t next = 0;
    FolderFd fd;
  };
  // The folder `path`, opened as `name` in the folder on top of the stack (or as `path` when the
  // stack is empty) and listed; nullopt when it cannot be opened, or when the walk has entered it
  // already under another name (a link; logged once a walk object).
  std::optional<Folder> open_folder(std::string path, const std::string& name);
  // The next file of the folders on the stack (popping those done); nullopt when it is empty.
  std::optional<std::string> next_in_folders();
  // Logs, once a walk object, a folder or link that cannot be read (its files are left out).
  void unreadable(const std::string& path, int error);

  std::string path_, place_;
  enum class Kind { file, folder, glob } kind_ = Kind::file;
  std::vector<std::string> matches_;  // a glob's
  size_t next_match_ = 0;
  std::vector<Folder> stack_;
  bool started_ = false;
  std::optional<std::string> first_;  // found by the constructor, not yet returned
  // The folders entered since the walk (re)started, each by where it is and the path it was read
  // under: a folder reached again through a link (a `latest` link beside the nights, a link back
  // up) is not read again. ~50 bytes a folder.
  std::map<FolderId, std::string> entered_;
  bool again_logged_ = false, unreadable_logged_ = false;
};

}  // namespace ebs
