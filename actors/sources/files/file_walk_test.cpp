#include "actors/sources/files/file_walk.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/util/fault.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;

std::vector<std::string> walk_all(FileWalk& walk) {
  std::vector<std::string> out;
  while (auto file = walk.next()) out.push_back(*file);
  return out;
}

}  // namespace

TEST_CASE("a folder walk yields the files a sorted list of every path would, hidden files left out") {
  const fs::path root = fs::temp_directory_path() / ("ebs-file-walk-" + std::to_string(::getpid()));
  fs::remove_all(root);
  // Names around '/' in sort order ('-' and '.' sort before it, '0' after): a walk that sorted
  // folders by bare name would put a/x before a-b.
  for (const char* dir : {"a", "a/deep/er", "b0", "empty", ".hidden-folder"}) fs::create_directories(root / dir);
  for (const char* file : {"a/x", "a/deep/er/y", "a-b", "a.c", "a0", "b0/z", ".hidden", "a/.dot", "c",
                           ".hidden-folder/w"})
    std::ofstream(root / file) << "x";
  // A link to a file is a file of the walk; a link to a folder is not followed.
  fs::create_symlink(root / "c", root / "b0" / "link-to-c");
  fs::create_directory_symlink(root / "a", root / "link-to-a");
  std::vector<std::string> expected;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') expected.push_back(e.path().string());
  std::sort(expected.begin(), expected.end());
  REQUIRE(expected.size() == 9);

  FileWalk walk(root.string(), "w.yaml:1:1");
  CHECK(walk.count() == expected.size());
  // The count is the same part way through the walk (the top folder's entries then come from it).
  REQUIRE(walk.next() == expected[0]);
  REQUIRE(walk.next() == expected[1]);
  CHECK(walk.count() == expected.size());
  walk.restart();
  CHECK(walk.count() == expected.size());
  CHECK(walk_all(walk) == expected);
  CHECK_FALSE(walk.next());
  walk.restart();
  CHECK(walk_all(walk) == expected);
  // A folder named with a trailing '/' gives the same paths (joined as std::filesystem::path
  // joins: no second separator).
  FileWalk slash(root.string() + "/", "w.yaml:1:1");
  CHECK(walk_all(slash) == expected);

  FileWalk glob((root / "a?*").string(), "w.yaml:1:1");
  CHECK(walk_all(glob) == std::vector<std::string>{(root / "a-b").string(), (root / "a.c").string(),
                                                   (root / "a0").string()});
  FileWalk one((root / "c").string(), "w.yaml:1:1");
  CHECK(one.count() == 1);
  CHECK(walk_all(one) == std::vector<std::string>{(root / "c").string()});

  CHECK_THROWS_WITH_AS(FileWalk((root / "empty").string(), "w.yaml:2:3"),
                       ("w.yaml:2:3: " + (root / "empty").string() + ": no files").c_str(), Fault);
  CHECK_THROWS_WITH_AS(FileWalk((root / "nothing").string(), "w.yaml:2:3"),
                       ("w.yaml:2:3: " + (root / "nothing").string() + ": no such file or directory").c_str(), Fault);
  CHECK_THROWS_WITH_AS(FileWalk((root / "q*").string(), "w.yaml:2:3"), doctest::Contains("no files"), Fault);
  fs::remove_all(root);
}

// The file open() gave: its contents (each file of the test holds its own name).
std::string contents_of(int fd) {
  REQUIRE(fd >= 0);
  char bytes[256];
  const ssize_t n = ::read(fd, bytes, sizeof bytes);
  ::close(fd);
  return n > 0 ? std::string(bytes, static_cast<size_t>(n)) : std::string();
}

TEST_CASE("open gives the file the walk gave last, by its folder's descriptor or by path") {
  const fs::path root = fs::temp_directory_path() / ("ebs-file-walk-open-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "a" / "b");
  for (const char* file : {"a/x", "a/b/y", "z"}) std::ofstream(root / file) << file;
  for (const std::string& top : {root.string(), root.string() + "/"}) {
    FileWalk walk(top, "w.yaml:1:1");
    std::vector<std::string> seen;
    while (auto file = walk.next()) {
      seen.push_back(contents_of(walk.open(*file, O_RDONLY | O_CLOEXEC)));
      // Another path than the last is opened by its path, a missing one fails with errno.
      CHECK(contents_of(walk.open((root / "z").string(), O_RDONLY | O_CLOEXEC)) == "z");
      CHECK(walk.open((root / "a" / "nothing").string(), O_RDONLY) == -1);
      CHECK(errno == ENOENT);
    }
    CHECK(seen == std::vector<std::string>{"a/b/y", "a/x", "z"});
  }
  // A glob's match and a single file are opened by their paths.
  FileWalk glob((root / "a" / "x*").string(), "w.yaml:1:1");
  const auto match = glob.next();
  REQUIRE(match);
  CHECK(contents_of(glob.open(*match, O_RDONLY)) == "a/x");
  FileWalk one((root / "z").string(), "w.yaml:1:1");
  CHECK(contents_of(one.open(*one.next(), O_RDONLY)) == "z");
  // A file removed after the walk listed it fails to open, as by path.
  FileWalk gone(root.string(), "w.yaml:1:1");
  const auto first = gone.next();
  REQUIRE(first);
  fs::remove(*first);
  CHECK(gone.open(*first, O_RDONLY) == -1);
  CHECK(errno == ENOENT);
  fs::remove_all(root);
}

TEST_CASE("the shared ZTF alerts walked in path order") {
  const fs::path ztf = test::data_dir() / "ztf";
  std::vector<std::string> expected;
  for (const auto& e : fs::recursive_directory_iterator(ztf))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') expected.push_back(e.path().string());
  std::sort(expected.begin(), expected.end());
  FileWalk walk(ztf.string(), "p");
  CHECK(walk.count() == 86);
  CHECK(walk_all(walk) == expected);
}

}  // namespace ebs
