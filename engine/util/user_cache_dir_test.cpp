#include "engine/util/user_cache_dir.h"

#include <doctest/doctest.h>

#include "test/support/scoped_env.h"

using ebs::test::ScopedEnv;

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
