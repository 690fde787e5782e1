#include "actors/sources/files/file_walk.h"

#include <doctest/doctest.h>
#include <unistd.h>

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
