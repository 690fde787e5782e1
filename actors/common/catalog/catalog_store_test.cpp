#include "actors/common/catalog/catalog_store.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>
#include <yaml-cpp/yaml.h>

#include "actors/common/catalog/catalog.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"
#include "test/support/scoped_env.h"
#include "test/support/test_catalogues.h"

using namespace ebs::catalog;
using ebs::crossmatch::testing::TemporaryFolder;
using ebs::test::ScopedEnv;
namespace fs = std::filesystem;

namespace {

// A fresh folder for one test case, removed after it.
TemporaryFolder temporary_folder() {
  static int cases = 0;
  const fs::path path = fs::temp_directory_path() / ("ebs_catalog_store_" + std::to_string(::getpid()) + "_" + std::to_string(cases++));
  fs::remove_all(path);
  return TemporaryFolder(path);
}

void write(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }

ino_t inode_of(const fs::path& file) {
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return st.st_ino;
}

// A small CSV catalogue and its config, side by side in `folder`.
fs::path small_catalogue(const fs::path& folder, const std::string& rows) {
  write(folder / "stars.csv", "ra,dec,id\n" + rows);
  write(folder / "stars.yaml", "name: stars\nfile: stars.csv\nformat: csv\ncolumns: {ra: ra, dec: dec, id: id}\n");
  return folder / "stars.yaml";
}

}  // namespace

TEST_CASE("a catalogue build is reused by the next run, and a changed catalogue is built again") {
  const TemporaryFolder temp = temporary_folder();
  const fs::path config = small_catalogue(temp.path, "10.0,20.0,a\n10.5,20.5,b\n");
  const fs::path cache = temp.path / "cache";

  const fs::path first = built_catalogue_file(config, cache);
  REQUIRE(fs::exists(first));
  CHECK(Catalog(first).size() == 2);
  // A second build would replace the file (a rename): a new inode. Last opened a year ago.
  const ino_t inode = inode_of(first);
  const auto year_ago = fs::file_time_type::clock::now() - std::chrono::hours(24 * 365);
  fs::last_write_time(first, year_ago);

  SUBCASE("the same catalogue, from another run: no build; marked as opened now") {
    CHECK(built_catalogue_file(config, cache) == first);
    CHECK(inode_of(first) == inode);
    CHECK(fs::file_time_type::clock::now() - fs::last_write_time(first) < std::chrono::hours(1));
    // Opened again within the day: not written again.
    const auto hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
    fs::last_write_time(first, hour_ago);
    built_catalogue_file(config, cache);
    CHECK(fs::last_write_time(first) == hour_ago);
  }
  SUBCASE("the same config and data reached by another path: the same build") {
    fs::create_directories(temp.path / "copy");
    const fs::path other = small_catalogue(temp.path / "copy", "10.0,20.0,a\n10.5,20.5,b\n");
    CHECK(built_catalogue_file(other, cache) == first);
    CHECK(inode_of(first) == inode);
  }
  SUBCASE("data changed at the same size and modification time: built again") {
    const fs::path data = temp.path / "stars.csv";
    const auto time = fs::last_write_time(data);
    write(data, "ra,dec,id\n10.0,20.0,a\n10.5,20.5,c\n");  // same length, one id changed
    fs::last_write_time(data, time);
    const fs::path second = built_catalogue_file(config, cache);
    CHECK(second != first);
    const Catalog rebuilt(second);
    REQUIRE(rebuilt.size() == 2);
    CHECK((rebuilt.row(0).id == "c" || rebuilt.row(1).id == "c"));
    CHECK_FALSE(fs::exists(first));  // the old build, not opened for a year, is removed
  }
  SUBCASE("a changed config: built again") {
    write(config, "name: stars\nfile: stars.csv\nformat: csv\ncolumns: {ra: ra, dec: dec}\n");
    CHECK(built_catalogue_file(config, cache) != first);
  }
  // Nothing but the builds is left in the cache: no temporary files.
  for (const auto& entry : fs::directory_iterator(cache)) CHECK(entry.path().extension() == ".ebscat");
}

TEST_CASE("other builds of a catalogue: kept while opened in the last week or held open, at most four; other catalogues untouched") {
  const TemporaryFolder temp = temporary_folder();
  const fs::path cache = temp.path / "cache";
  const auto now = fs::file_time_type::clock::now();
  auto build_version = [&](int version) {
    return built_catalogue_file(small_catalogue(temp.path, "10.0,20.0,v" + std::to_string(version) + "\n"), cache);
  };
  std::vector<fs::path> builds;
  // Versions 0-2 of one catalogue (its data edited): version 0 not opened for eight days, version 1
  // for six. When version 2 is built (two others: under the cap), the week alone decides.
  builds.push_back(build_version(0));
  builds.push_back(build_version(1));
  fs::last_write_time(builds[0], now - std::chrono::hours(24 * 8));
  fs::last_write_time(builds[1], now - std::chrono::hours(24 * 6));
  builds.push_back(build_version(2));
  CHECK_FALSE(fs::exists(builds[0]));
  CHECK(fs::exists(builds[1]));
  CHECK(fs::exists(builds[2]));

  // Another catalogue's builds, and a name that only starts like this one's, are never this one's.
  const fs::path other = cache / "stars2-0123456789abcdef.ebscat";
  const fs::path longer = cache / "stars-extra-0123456789abcdef.ebscat";
  write(other, "x");
  write(longer, "x");
  fs::last_write_time(other, now - std::chrono::hours(24 * 365));
  fs::last_write_time(longer, now - std::chrono::hours(24 * 365));

  // Versions 3-5, each last opened an hour later than the one before; version 1 is held open by a
  // run (a loaded Catalog) although not opened for six days and the oldest.
  const Catalog held(builds[1]);
  for (int version = 3; version < 6; ++version) {
    builds.push_back(build_version(version));
    fs::last_write_time(builds.back(), now - std::chrono::hours(100 - version));
  }
  fs::last_write_time(builds[2], now - std::chrono::hours(100));
  // Version 6: five others (1-5); the cap keeps the four last opened (2-5), and version 1, past the
  // cap, stays because it is held.
  builds.push_back(build_version(6));
  for (int version : {1, 2, 3, 4, 5, 6}) CHECK(fs::exists(builds[version]));
  // Version 7: six others; 1 still held; of 2-6 the one opened longest ago (2) goes.
  builds.push_back(build_version(7));
  CHECK_FALSE(fs::exists(builds[2]));
  for (int version : {1, 3, 4, 5, 6, 7}) CHECK(fs::exists(builds[version]));
  CHECK(fs::exists(other));
  CHECK(fs::exists(longer));
  CHECK(held.size() == 1);
}

TEST_CASE("runs building one catalogue at once into one cache each get a whole file") {
  const TemporaryFolder temp = temporary_folder();
  std::string rows;
  for (int i = 0; i < 2000; ++i) rows += std::to_string(i * 0.17) + "," + std::to_string(i * 0.04 - 40) + ",s" + std::to_string(i) + "\n";
  const fs::path config = small_catalogue(temp.path, rows);
  const fs::path cache = temp.path / "cache";
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < errors.size(); ++t)
    threads.emplace_back([&, t] {
      try {
        const fs::path file = built_catalogue_file(config, cache);
        if (Catalog(file).size() != 2000) errors[t] = "wrong size";
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) CHECK(e == "");
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(cache)) {
    CHECK(entry.path().extension() == ".ebscat");
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("the catalogue cache folder: the actor's cache_dir, else EBS_CATALOG_CACHE, else the user's cache") {
  const TemporaryFolder temp = temporary_folder();
  ebs::ActorContext context;
  context.run_dir = (temp.path / "run").string();
  {
    // cache_dir wins over the environment, and resolves against the workflow file's folder.
    ScopedEnv env("EBS_CATALOG_CACHE", (temp.path / "set").c_str());
    ebs::ActorContext configured = context;
    configured.config = ebs::ActorConfig(YAML::Load("{cache_dir: builds}"), (temp.path / "flows" / "workflow.yaml").string(), nullptr);
    CHECK(catalogue_cache_dir(configured) == temp.path / "flows" / "builds");
    configured.config = ebs::ActorConfig(YAML::Load("{cache_dir: /somewhere/else}"), (temp.path / "workflow.yaml").string(), nullptr);
    CHECK(catalogue_cache_dir(configured) == "/somewhere/else");
  }
  {
    ScopedEnv env("EBS_CATALOG_CACHE", (temp.path / "set").c_str());
    CHECK(catalogue_cache_dir(context) == temp.path / "set");
  }
  {
    ScopedEnv env("EBS_CATALOG_CACHE", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", (temp.path / "xdg").c_str());
    CHECK(catalogue_cache_dir(context) == temp.path / "xdg" / "ebs-flow" / "catalogs");
  }
  {
    ScopedEnv env("EBS_CATALOG_CACHE", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv home("HOME", (temp.path / "home").c_str());
    CHECK(catalogue_cache_dir(context) == temp.path / "home" / ".cache" / "ebs-flow" / "catalogs");
  }
  {
    // A folder that cannot be made (its parent is a file): the run's own.
    write(temp.path / "not-a-folder", "x");
    ScopedEnv env("EBS_CATALOG_CACHE", (temp.path / "not-a-folder" / "cache").c_str());
    CHECK(catalogue_cache_dir(context) == temp.path / "run" / "catalog-cache");
  }
}

TEST_CASE("a damaged cached build is removed and built again once") {
  const TemporaryFolder temp = temporary_folder();
  const fs::path config = small_catalogue(temp.path, "10.0,20.0,a\n10.5,20.5,b\n");
  const fs::path cache = temp.path / "cache";
  const fs::path file = built_catalogue_file(config, cache);
  // A build cut short (a crash before the data reached the disk): half its bytes.
  fs::resize_file(file, fs::file_size(file) / 2);
  REQUIRE_THROWS_AS(Catalog{file}, ebs::Fault);

  CatalogStore store;
  const std::shared_ptr<const Catalog> opened = store.open(config, cache);
  CHECK(opened->size() == 2);
  CHECK(fs::file_size(file) > 0);
  CHECK(Catalog(file).size() == 2);  // the same name, a whole build again
}

TEST_CASE("a build never removes another's temporary file; ones left over an hour ago are swept") {
  const TemporaryFolder temp = temporary_folder();
  const fs::path config = small_catalogue(temp.path, "10.0,20.0,a\n");
  const fs::path cache = temp.path / "cache";
  fs::create_directories(cache);
  const fs::path writing = cache / "stars-0123456789abcdef.ebscat.partial-Ab12Cd";  // another run's, being written
  const fs::path left = cache / "stars-fedcba9876543210.ebscat.partial-Zz99Yy";     // a killed run's
  write(writing, "half");
  write(left, "half");
  fs::last_write_time(left, fs::file_time_type::clock::now() - std::chrono::hours(2));
  built_catalogue_file(config, cache);
  CHECK(fs::exists(writing));
  CHECK_FALSE(fs::exists(left));
}

TEST_CASE("catalogue configs: a name that cannot start a file name, an unreadable data file") {
  const TemporaryFolder temp = temporary_folder();
  small_catalogue(temp.path, "10.0,20.0,a\n");
  const fs::path cache = temp.path / "cache";
  for (const char* name : {"../stars", "a/b", "..", "\"\""}) {
    write(temp.path / "bad.yaml", std::string("name: ") + name + "\nfile: stars.csv\nformat: csv\ncolumns: {ra: ra, dec: dec}\n");
    CHECK_THROWS_WITH_AS(built_catalogue_file(temp.path / "bad.yaml", cache), doctest::Contains("cannot start a file name"),
                         ebs::Fault);
  }
  // The data file's path goes through a file: the error says why it cannot be opened, not "not found".
  write(temp.path / "through.yaml", "name: stars\nfile: stars.csv/inner.csv\nformat: csv\ncolumns: {ra: ra, dec: dec}\n");
  CHECK_THROWS_WITH_AS(built_catalogue_file(temp.path / "through.yaml", cache),
                       doctest::Contains("cannot open the catalogue data file: Not a directory"), ebs::Fault);
  write(temp.path / "missing.yaml", "name: stars\nfile: missing.csv\nformat: csv\ncolumns: {ra: ra, dec: dec}\n");
  CHECK_THROWS_WITH_AS(built_catalogue_file(temp.path / "missing.yaml", cache),
                       doctest::Contains("catalogue data file not found"), ebs::Fault);
}
