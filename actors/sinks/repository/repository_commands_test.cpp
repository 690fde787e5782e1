#include "actors/sinks/repository/repository_commands.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/common/repository/schema.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/writer.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

struct Run {
  int code = 0;
  std::string out, err;
};

Run run(std::vector<std::string> args) {
  CommandRegistry registry;
  register_repository_commands(registry);
  args.insert(args.begin(), "ebs-flow");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  CLI::App app{"test", "ebs-flow"};
  int code = registry.dispatch(app, static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {code, out.str(), err.str()};
}

std::string repository_with(const TempDir& dir, int alerts) {
  const std::string path = dir.file("cmd.db");
  Writer writer(path);
  writer.begin();
  for (int i = 1; i <= alerts; ++i) writer.add(*make_alert(static_cast<uint64_t>(i), "o" + std::to_string(i % 3), 5, 5, 60000 + i));
  writer.commit(static_cast<uint64_t>(alerts), static_cast<uint64_t>(alerts));
  return path;
}

}  // namespace

TEST_CASE("query prints JSON lines and binds --param values") {
  TempDir dir("repo-cmd-query");
  const std::string db = repository_with(dir, 6);
  Run r = run({"query", db, "SELECT object_id, count(*) AS n FROM alerts WHERE mjd_tai > :t GROUP BY object_id ORDER BY object_id",
               "--param", "t=60002.5"});
  REQUIRE(r.code == 0);
  // Columns in SELECT order.
  CHECK(r.out == "{\"object_id\":\"o0\",\"n\":2}\n{\"object_id\":\"o1\",\"n\":1}\n{\"object_id\":\"o2\",\"n\":1}\n");
}

TEST_CASE("query opens the database read-only and refuses writes") {
  TempDir dir("repo-cmd-ro");
  const std::string db = repository_with(dir, 2);
  for (const char* sql : {"DELETE FROM alerts", "UPDATE objects SET ndet = 0", "DROP TABLE alerts",
                          "SELECT 1; DELETE FROM alerts", "PRAGMA journal_mode=DELETE"}) {
    INFO(sql);
    Run r = run({"query", db, sql});
    CHECK(r.code == 1);
    CHECK(r.err.find(db + ":") == 0);
  }
  Run count = run({"query", db, "SELECT count(*) AS n FROM alerts"});
  CHECK(count.out == "{\"n\":2}\n");
  Run missing = run({"query", dir.file("nope.db"), "SELECT 1"});
  CHECK(missing.code == 1);
  CHECK(!std::filesystem::exists(dir.file("nope.db")));  // read-only: nothing created
}

TEST_CASE("serve refuses a non-loopback address without a token") {
  TempDir dir("repo-cmd-serve");
  const std::string db = repository_with(dir, 1);
  Run r = run({"serve", db, "--http", "0.0.0.0:18080"});
  CHECK(r.code == 2);
  CHECK(r.err.find("needs --token") != std::string::npos);
  Run bad = run({"serve", db, "--http", "127.0.0.1:http"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("is not a port number") != std::string::npos);
}

TEST_CASE("repository info and archive") {
  TempDir dir("repo-cmd-archive");
  const std::string db = repository_with(dir, 4);
  Run info = run({"repository", "info", db});
  REQUIRE(info.code == 0);
  auto j = nlohmann::json::parse(info.out);
  CHECK(j["rows"]["alerts"] == 4);
  CHECK(j["schema_version"] == ebs::repository::kSchemaVersion);
  // Alerts at MJD 60001..60004 are years old: everything moves.
  Run archived = run({"repository", "archive", db, "--older-than-days", "30"});
  REQUIRE_MESSAGE(archived.code == 0, archived.err);
  auto a = nlohmann::json::parse(archived.out);
  CHECK(a["archived"]["alerts"] == 4);
  CHECK(a["files"].size() == 2);  // alerts and light-curve points (no annotations here)
  CHECK(run({"repository", "archive", db, "--older-than-days", "-1"}).code == 2);
}
