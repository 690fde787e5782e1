#include "engine/util/user_cache_dir.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace {

// Sets (or, given nullptr, unsets) an environment variable for one scope, restoring it after.
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

TEST_CASE("user_cache_dir: XDG_CACHE_HOME when absolute, else HOME/.cache, else none") {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "/var/cache/someone");
    CHECK(ebs::user_cache_dir("catalogs") == "/var/cache/someone/ebs-flow/catalogs");
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "relative/cache");  // invalid per the spec: ignored
    CHECK(ebs::user_cache_dir("catalogs") == "/home/someone/.cache/ebs-flow/catalogs");
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", "");
    CHECK(ebs::user_cache_dir("node-files") == "/home/someone/.cache/ebs-flow/node-files");
  }
  {
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv no_home("HOME", nullptr);
    CHECK(ebs::user_cache_dir("catalogs").empty());
  }
}
