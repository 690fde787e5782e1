// `ebs-flow query postgresql://...` and the `postgres-repository` sink through the real binary:
// a workflow stores simulated alerts, the query command reads them back, read-only.
#include "actors/sinks/postgres/pg_query.h"

#include <doctest/doctest.h>

#include <fstream>

#include "test/support/repository_test_support.h"
#include "test/support/postgres_server.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;

namespace {

std::vector<nlohmann::json> rows(const std::string& url, const std::string& sql, const nlohmann::json& params = {}) {
  std::vector<nlohmann::json> out;
  postgres::query(url, sql, params.is_null() ? nlohmann::json::object() : params,
                  [&](const nlohmann::json& row) { out.push_back(row); });
  return out;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE(":name parameters become positional, quotes and casts untouched") {
  auto [sql, names] = postgres::positional_parameters(
      "SELECT ':x', \"a:b\", n::text FROM t WHERE a = :id AND b > :min OR c = :id");
  CHECK(sql == "SELECT ':x', \"a:b\", n::text FROM t WHERE a = $1 AND b > $2 OR c = $1");
  CHECK(names == std::vector<std::string>{"id", "min"});
}

TEST_CASE("query: typed JSON values, bound parameters, and no writes") {
  const std::string url = ebs::test::fresh_postgres_database("query");
  auto r = rows(url,
                "SELECT 1::int AS i, 2::bigint AS b, 0.5::float8 AS f, 1.25::numeric AS n, true AS t, "
                "'{\"a\":1}'::jsonb AS j, 'x' AS s, NULL::text AS z, :name::text AS p",
                {{"name", "it's"}});
  REQUIRE(r.size() == 1);
  CHECK(r[0] == nlohmann::json{{"i", 1}, {"b", 2}, {"f", 0.5}, {"n", 1.25}, {"t", true},
                               {"j", {{"a", 1}}}, {"s", "x"}, {"z", nullptr}, {"p", "it's"}});
  CHECK_THROWS_AS(rows(url, "CREATE TABLE t(x int)"), Fault);
  CHECK_THROWS_AS(rows(url, "SELECT 1; CREATE TABLE t(x int)"), Fault);
  CHECK_THROWS_AS(rows(url, "SELECT :missing"), Fault);
  CHECK(rows(url, "SELECT count(*) AS n FROM pg_tables WHERE tablename = 't'")[0]["n"] == 0);
}

TEST_CASE("ebs-flow run with a postgres-repository sink, then ebs-flow query") {
  const std::string binary = (ebs::test::binary_dir() / "ebs-flow").string();
  REQUIRE(std::filesystem::exists(binary));
  const std::string url = ebs::test::fresh_postgres_database("cli");
  repository::testing::TempDir dir("pg-cli");
  std::ofstream(dir.file("workflow.yaml")) << "name: postgres-cli\n"
                                              "actors:\n"
                                              "  - id: sim\n"
                                              "    type: simulator\n"
                                              "    config: {count: 3000, seed: 4, objects: 200}\n"
                                              "  - id: repo\n"
                                              "    type: postgres-repository\n"
                                              "    config: {url: '" + url + "', commit_records: 500}\n"
                                              "    inputs: [sim.alerts]\n"
                                              "  - id: out\n"
                                              "    type: jsonl\n"
                                              "    config: {path: stored.jsonl, with_raw: false}\n"
                                              "    inputs: [repo.committed]\n";
  auto run = ebs::test::run_command(binary + " run workflow.yaml --quiet --run-dir run --summary-json summary.json",
                                    dir.path());
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto summary = nlohmann::json::parse(ebs::test::read_file(dir.path() / "summary.json"));
  CHECK(summary["accounting_ok"] == true);

  auto count = ebs::test::run_command(
      binary + " query '" + url + "' 'SELECT count(*) AS alerts, count(DISTINCT object_id) AS objects FROM alerts'",
      dir.path());
  REQUIRE_MESSAGE(count.exit_code == 0, count.err);
  auto lines = json_lines(count.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["alerts"].get<int64_t>() > 2900);  // the simulator's candids can repeat: a repeat is stored once
  CHECK(lines[0]["objects"] == 200);
  // Every alert the sink sent on was committed.
  CHECK(json_lines(ebs::test::read_file(dir.path() / "run" / "stored.jsonl")).size() == 3000);

  auto param = ebs::test::run_command(binary + " query '" + url +
                                          "' 'SELECT ndet FROM objects WHERE ndet >= :min ORDER BY ndet DESC LIMIT 1' "
                                          "--param min=2",
                                      dir.path());
  REQUIRE_MESSAGE(param.exit_code == 0, param.err);
  CHECK(json_lines(param.out).at(0)["ndet"].get<int64_t>() >= 2);

  auto write = ebs::test::run_command(binary + " query '" + url + "' 'DELETE FROM alerts'", dir.path());
  CHECK(write.exit_code == 1);
  CHECK(write.err.find("read-only transaction") != std::string::npos);
  CHECK(write.err.find("postgresql://127.0.0.1:") != std::string::npos);
}
