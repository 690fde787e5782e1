#include "actors/common/catalog/catalog_store.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "actors/common/catalog/catalog.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"

using namespace ebs::catalog;
namespace fs = std::filesystem;

namespace {

struct TempFolder {
  fs::path path = fs::temp_directory_path() / ("ebs_catalog_store_" + std::to_string(::getpid()));
  TempFolder() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempFolder() { fs::remove_all(path); }
};

void write(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }

// A small CSV catalogue and its config, side by side in `folder`.
fs::path small_catalogue(const fs::path& folder, const std::string& rows) {
  write(folder / "stars.csv", "ra,dec,id\n" + rows);
  write(folder / "stars.yaml", "name: stars\nfile: stars.csv\nformat: csv\ncolumns: {ra: ra, dec: dec, id: id}\n");
  return folder / "stars.yaml";
}

// Sets an environment variable for one scope, restoring it after.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) ::setenv(name.c_str(), value, 1);
    else ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("a catalogue build is reused by the next run, and a changed catalogue is built again") {
  TempFolder temp;
  const fs::path config = small_catalogue(temp.path, "10.0,20.0,a\n10.5,20.5,b\n");
  const fs::path cache = temp.path / "cache";

  const fs::path first = built_catalogue_file(config, cache);
  REQUIRE(fs::exists(first));
  CHECK(Catalog(first).size() == 2);
  // Mark the build: a second build would replace the file (a rename) and lose the mark.
  const auto marked = fs::file_time_type::clock::now() - std::chrono::hours(24 * 365);
  fs::last_write_time(first, marked);

  SUBCASE("the same catalogue, from another run: no build") {
    CHECK(built_catalogue_file(config, cache) == first);
    CHECK(fs::last_write_time(first) == marked);
  }
  SUBCASE("the same config and data reached by another path: the same build") {
    fs::create_directories(temp.path / "copy");
    const fs::path other = small_catalogue(temp.path / "copy", "10.0,20.0,a\n10.5,20.5,b\n");
    CHECK(built_catalogue_file(other, cache) == first);
    CHECK(fs::last_write_time(first) == marked);
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
    CHECK(fs::last_write_time(first) == marked);  // the old build is left as it was
  }
  SUBCASE("a changed config: built again") {
    write(config, "name: stars\nfile: stars.csv\nformat: csv\ncolumns: {ra: ra, dec: dec}\n");
    CHECK(built_catalogue_file(config, cache) != first);
  }
  // Nothing but the builds is left in the cache: no temporary files.
  for (const auto& entry : fs::directory_iterator(cache)) CHECK(entry.path().extension() == ".ebscat");
}

TEST_CASE("runs building one catalogue at once into one cache each get a whole file") {
  TempFolder temp;
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
  TempFolder temp;
  ebs::ActorContext context;
  context.run_dir = (temp.path / "run").string();
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
