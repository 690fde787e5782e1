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
    CHECK_FALSE(remove_unless_held(file));  // a lock of this process conflicts as another's does
    CHECK_FALSE(remove_unless_held(folder));
    CHECK(fs::exists(file));
    CHECK(fs::exists(folder / "inner" / "copy"));
    std::optional<CacheHold> second = CacheHold::take(file);  // holds share
    CHECK(second);
  }
  CHECK(remove_unless_held(file));
  CHECK(remove_unless_held(folder));
  CHECK_FALSE(fs::exists(file));
  CHECK_FALSE(fs::exists(folder));
  CHECK_FALSE(CacheHold::take(file));
  CHECK_FALSE(remove_unless_held(file));
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
