#include "actors/sources/files/file_walk.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <set>
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

TEST_CASE("a folder walk yields the files a sorted list of every path would, hidden files and folders left out") {
  const fs::path root = fs::temp_directory_path() / ("ebs-file-walk-" + std::to_string(::getpid()));
  fs::remove_all(root);
  // Names around '/' in sort order ('-' and '.' sort before it, '0' after): a walk that sorted
  // folders by bare name would put a/x before a-b.
  for (const char* dir : {"a", "a/deep/er", "b0", "empty", ".hidden-folder"}) fs::create_directories(root / dir);
  for (const char* file : {"a/x", "a/deep/er/y", "a-b", "a.c", "a0", "b0/z", ".hidden", "a/.dot", "c",
                           ".hidden-folder/w"})
    std::ofstream(root / file) << "x";
  // A link to a file is a file of the walk; a link to a folder the walk has read already (under
  // its own name, which sorts first) is not read again.
  fs::create_symlink(root / "c", root / "b0" / "link-to-c");
  fs::create_directory_symlink(root / "a", root / "link-to-a");
  std::vector<std::string> expected;
  for (const auto& e : fs::recursive_directory_iterator(root))  // links to folders not followed
    if (e.is_regular_file()) {
      const fs::path relative = e.path().lexically_relative(root);
      if (std::none_of(relative.begin(), relative.end(), [](const fs::path& part) { return part.string()[0] == '.'; }))
        expected.push_back(e.path().string());
    }
  std::sort(expected.begin(), expected.end());
  REQUIRE(expected.size() == 8);  // .hidden-folder/w left out with the hidden files, link-to-a/* as a/*
  CHECK(std::count(expected.begin(), expected.end(), (root / "b0" / "link-to-c").string()) == 1);

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
  // A glob's matches that are folders are walked (a0 a file, b0 a folder); a folder two matches
  // name (a, and link-to-a to it) is read once.
  FileWalk nights((root / "*0").string(), "w.yaml:1:1");
  const std::vector<std::string> in_nights{(root / "a0").string(), (root / "b0" / "link-to-c").string(),
                                           (root / "b0" / "z").string()};
  CHECK(nights.count() == 3);
  CHECK(walk_all(nights) == in_nights);
  nights.restart();
  CHECK(walk_all(nights) == in_nights);
  FileWalk twice((root / "*a").string(), "w.yaml:1:1");
  CHECK(twice.count() == 2);
  CHECK(walk_all(twice) == std::vector<std::string>{(root / "a" / "deep" / "er" / "y").string(), (root / "a" / "x").string()});
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

TEST_CASE("links to folders are followed in name order, a link back to a folder the walk has entered is not") {
  const fs::path root = fs::temp_directory_path() / ("ebs-file-walk-links-" + std::to_string(::getpid()));
  const fs::path stored = fs::temp_directory_path() / ("ebs-file-walk-stored-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::remove_all(stored);
  // Nights stored elsewhere, linked into the folder the source reads; one night a plain folder.
  for (const char* night : {"20261205", "20261206"}) {
    fs::create_directories(stored / night);
    for (const char* file : {"b.avro", "a.avro"}) std::ofstream(stored / night / file) << night << file;
  }
  fs::create_directories(root / "20261204");
  std::ofstream(root / "20261204" / "a.avro") << "x";
  fs::create_directory_symlink(stored / "20261206", root / "20261206");
  fs::create_directory_symlink(stored / "20261205", root / "20261205");
  // Loops: a link to the top folder, one to its own folder, and one to an ancestor inside a night.
  fs::create_directory_symlink(root, root / "20261204" / "up");
  fs::create_directory_symlink(".", root / "20261204" / "self");
  fs::create_directory_symlink(root, stored / "20261206" / "top");
  // A link to a folder that is not there is no file.
  fs::create_directory_symlink(stored / "nothing", root / "20261207");
  const std::vector<std::string> expected{
      (root / "20261204" / "a.avro").string(), (root / "20261205" / "a.avro").string(),
      (root / "20261205" / "b.avro").string(), (root / "20261206" / "a.avro").string(),
      (root / "20261206" / "b.avro").string()};
  FileWalk walk(root.string(), "w.yaml:1:1");
  CHECK(walk.count() == expected.size());
  CHECK(walk_all(walk) == expected);
  walk.restart();
  CHECK(walk_all(walk) == expected);
  CHECK(walk.count() == expected.size());
  // The linked night read as the top folder: its link to the top is followed once (the top is
  // not on the walk's stack), and the link back to the night inside that is not.
  FileWalk night((root / "20261206").string(), "w.yaml:1:1");
  const std::vector<std::string> from_night = walk_all(night);
  CHECK(night.count() == from_night.size());
  CHECK(from_night.size() == 2 + 3);
  CHECK(from_night.front() == (root / "20261206" / "a.avro").string());
  CHECK(from_night.back() == (root / "20261206" / "top" / "20261205" / "b.avro").string());
  fs::remove_all(root);
  fs::remove_all(stored);
}

TEST_CASE("a folder reached by two names is read once: a `latest` link beside the nights, siblings linking each other") {
  const fs::path root = fs::temp_directory_path() / ("ebs-file-walk-twice-" + std::to_string(::getpid()));
  fs::remove_all(root);
  for (const char* night : {"20261205", "20261206"}) {
    fs::create_directories(root / "nights" / night);
    std::ofstream(root / "nights" / night / "a.avro") << night;
  }
  fs::create_directory_symlink("20261206", root / "nights" / "latest");
  // Eight siblings, each linking to every other: without one set of folders entered, ~10^5 files.
  for (int i = 0; i < 8; ++i) {
    fs::create_directories(root / "web" / std::to_string(i));
    std::ofstream(root / "web" / std::to_string(i) / "f") << i;
  }
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j)
      if (i != j) fs::create_directory_symlink(root / "web" / std::to_string(j), root / "web" / std::to_string(i) / ("to-" + std::to_string(j)));

  FileWalk nights((root / "nights").string(), "w.yaml:1:1");
  const std::vector<std::string> expected{(root / "nights" / "20261205" / "a.avro").string(),
                                          (root / "nights" / "20261206" / "a.avro").string()};
  CHECK(nights.count() == 2);
  CHECK(walk_all(nights) == expected);
  nights.restart();  // the folders entered are forgotten: the same files again
  CHECK(walk_all(nights) == expected);

  // Each folder once, under the first of its names in the walk's order (depth first: web/0/to-1
  // comes before web/1), so each file once.
  FileWalk web((root / "web").string(), "w.yaml:1:1");
  const std::vector<std::string> files = walk_all(web);
  CHECK(web.count() == 8);
  REQUIRE(files.size() == 8);
  std::set<std::string> contents;
  for (const std::string& file : files) contents.insert(contents_of(::open(file.c_str(), O_RDONLY | O_CLOEXEC)));
  CHECK(contents == std::set<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"});
  CHECK(files[1] == (root / "web" / "0" / "to-1" / "f").string());
  fs::remove_all(root);
}

// How many descriptors this process has open.
size_t open_descriptors() {
  size_t n = 0;
  for (auto it = fs::directory_iterator("/proc/self/fd"); it != fs::directory_iterator(); ++it) ++n;
  return n;
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
  // By its folder's descriptor: the file the walk gave opens after its folder is renamed, which
  // its path no longer names; the walk goes on in the renamed folder's parent.
  {
    const size_t before = open_descriptors();
    {
      FileWalk walk(root.string(), "w.yaml:1:1");
      const auto file = walk.next();
      REQUIRE(file == (root / "a" / "b" / "y").string());
      CHECK(open_descriptors() > before);  // the folders on the walk's path
      fs::rename(root / "a" / "b", root / "a" / "c");
      CHECK(contents_of(walk.open(*file, O_RDONLY | O_CLOEXEC)) == "a/b/y");
      CHECK(::open(file->c_str(), O_RDONLY) == -1);
      CHECK(walk.next() == (root / "a" / "x").string());
      CHECK(walk.next() == (root / "z").string());
      CHECK_FALSE(walk.next());
      CHECK(open_descriptors() == before);  // the walk ended: no folder held
      walk.restart();
      CHECK(open_descriptors() == before);
      CHECK(walk.next() == (root / "a" / "c" / "y").string());
      walk.restart();
      CHECK(open_descriptors() == before);
      CHECK(walk.next() == (root / "a" / "c" / "y").string());
      CHECK(walk.count() == 3);
    }
    CHECK(open_descriptors() == before);  // destroyed part way
    fs::rename(root / "a" / "c", root / "a" / "b");
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
