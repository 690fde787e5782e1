#include "engine/util/cache_use.h"

#include <doctest/doctest.h>

#include <fstream>

#include "test/support/temp_dir.h"

using namespace ebs;
namespace fs = std::filesystem;

TEST_CASE("a cache entry a run holds is not removed; once let go it is; a hold finds a removed entry gone") {
  test_support::TempDir dir("cache-use");
  const fs::path file = dir.path() / "object";
  const fs::path folder = dir.path() / "tree";
  std::ofstream(file) << "bytes";
  fs::create_directories(folder / "inner");
  std::ofstream(folder / "inner" / "copy") << "bytes";
  {
    std::optional<CacheHold> file_hold = CacheHold::take(file);
    std::optional<CacheHold> folder_hold = CacheHold::take(folder);
    REQUIRE(file_hold);
    REQUIRE(folder_hold);
    CHECK(remove_unless_held(file) == CacheRemoval::held);  // a lock of this process conflicts as another's does
    CHECK(remove_unless_held(folder) == CacheRemoval::held);
    CHECK(fs::exists(file));
    CHECK(fs::exists(folder / "inner" / "copy"));
    std::optional<CacheHold> second = CacheHold::take(file);  // holds share
    CHECK(second);
  }
  CHECK(remove_unless_held(file) == CacheRemoval::removed);
  CHECK(remove_unless_held(folder) == CacheRemoval::removed);
  CHECK_FALSE(fs::exists(file));
  CHECK_FALSE(fs::exists(folder));
  CHECK_FALSE(CacheHold::take(file));
  CHECK(remove_unless_held(file) == CacheRemoval::gone);  // not counted twice
}

TEST_CASE("a removal removes what it locked, not what the path names after: a file put in its place stays") {
  test_support::TempDir dir("cache-replaced");
  const fs::path file = dir.path() / "object";
  const fs::path fresh = dir.path() / "fresh";
  std::ofstream(file) << "old";
  std::optional<CacheHold> old_hold = CacheHold::take(file);
  REQUIRE(old_hold);
  // Another process puts a new file where the locked one was (what a rename over it does).
  std::ofstream(fresh) << "new";
  fs::rename(fresh, file);
  CHECK(old_hold->remove(file) == CacheRemoval::gone);
  REQUIRE(fs::exists(file));
  std::ifstream in(file);
  std::string text;
  in >> text;
  CHECK(text == "new");
  // A removed entry: a second removal through an old hold finds it gone.
  std::optional<CacheHold> first = CacheHold::take(file);
  std::optional<CacheHold> second = CacheHold::take(file);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->remove(file) == CacheRemoval::held);  // the second still holds it
  CHECK(remove_unless_held(file) == CacheRemoval::held);
  second.reset();
  CHECK(remove_unless_held(file) == CacheRemoval::removed);
  std::ofstream(file) << "newer";
  CHECK(CacheHold::take(file));  // a new file under the same name is another entry
}

TEST_CASE("a cache on a network file system is told apart (it is not pruned): NFS, SMB, CIFS by statfs's type") {
  CHECK(network_file_system_of_type(0x6969) == "NFS");
  CHECK(network_file_system_of_type(0x517B) == "SMB");
  CHECK(network_file_system_of_type(static_cast<long>(0xFF534D42)) == "CIFS");
  CHECK(network_file_system_of_type(0xEF53).empty());  // ext4
  CHECK(network_file_system_of_type(0x01021994).empty());  // tmpfs
  test_support::TempDir dir("cache-fs");
  MESSAGE("the test's temporary folder is on: '" << network_file_system(dir.path()) << "' (empty: local)");
  CHECK(network_file_system(dir.path() / "not" / "made") == network_file_system(dir.path()));
}

TEST_CASE("a use is marked when the last mark is more than a day old, not at every use") {
  test_support::TempDir dir("cache-mark");
  const fs::path file = dir.path() / "object";
  std::ofstream(file) << "bytes";
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(file, now - std::chrono::hours(30));
  mark_cache_use(file);
  CHECK(now - fs::last_write_time(file) < std::chrono::hours(1));
  const auto recent = now - std::chrono::hours(20);
  fs::last_write_time(file, recent);
  mark_cache_use(file);
  CHECK(fs::last_write_time(file) == recent);
}
