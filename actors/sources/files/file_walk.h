// The input files of a file source, one at a time, without holding the whole list: a folder is
// walked depth first with each folder's entries sorted, so only the folders on the current path
// are held, and the files come in the name order of their full paths (a folder sorts as its name
// plus '/'), the order a sorted list of every path would have. A million alert files in folders of
// a thousand hold a thousand names, not a million paths (~100 MB).
//
// `path` is a file, a folder (recursive; names starting with '.' are skipped) or a glob (glob(3)
// returns its matches together: a glob's list is held). Not thread-safe: one per source instance.
#pragma once

#include <cstddef>
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
  // Back to the first file.
  void restart();
  // How many files the walk yields, for progress: a count of its own that holds and sorts nothing,
  // but takes the top folder's entries from the walk while it holds them (a flat folder of alert
  // files is listed once, by the constructor's search for a first file).
  size_t count() const;

 private:
  struct Folder {
    std::string path;
    std::vector<std::string> entries;  // sorted; a folder's entry ends with '/'
    size_t next = 0;
  };
  Folder open_folder(const std::string& path) const;

  std::string path_, place_;
  enum class Kind { file, folder, glob } kind_ = Kind::file;
  std::vector<std::string> matches_;  // a glob's
  size_t next_match_ = 0;
  std::vector<Folder> stack_;
  bool started_ = false;
  std::optional<std::string> first_;  // found by the constructor, not yet returned
};

}  // namespace ebs
