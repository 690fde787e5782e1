// A repository sink that cannot write (its `max_size_mb` quota reached: a full disk) through the
// ebs-flow binary: it stops taking input, so the source stops reading (it does not produce its
// 100,000 alerts into memory), retries for stall_timeout_s, then the run ends with exit 1 saying
// why, and the database holds exactly what was committed.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "actors/common/sqlite/sqlite_db.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace fs = std::filesystem;
using nlohmann::json;

TEST_CASE("a full repository stalls the graph, then ends the run with exit 1 after stall_timeout_s") {
  fs::path dir = fs::temp_directory_path() / ("ebs-repo-stall-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "workflow.yaml") << R"(name: stall
defaults: {batch_size: 50}
actors:
  - id: sim
    type: simulator
    config: {count: 100000, seed: 3}
  - id: repo
    type: repository
    config: {path: full.db, max_size_mb: 1, commit_records: 50, stall_timeout_s: 1}
    inputs: [sim.alerts]
)";
  auto started = std::chrono::steady_clock::now();
  ebs::test::CommandResult r = ebs::test::run_command(
      (ebs::test::binary_dir() / "ebs-flow").string() + " run workflow.yaml --quiet --run-dir run --summary-json run/summary.json",
      dir);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("could not write for 1 s (stall_timeout_s)") != std::string::npos);
  CHECK(r.err.find("full") != std::string::npos);  // SQLite's "database or disk is full"
  CHECK(seconds < 30);
  json summary = json::parse(ebs::test::read_file(dir / "run/summary.json"));
  uint64_t read = 0;
  for (const json& a : summary["actors"])
    if (a["id"] == "sim") read = a["in"].get<uint64_t>();
  CHECK(read < 60000);  // back-pressure: the credit window, not the whole stream
  ebs::repository::Database db((dir / "run/full.db").string(), ebs::repository::Database::Mode::read_only);
  int64_t stored = db.scalar("SELECT count(*) FROM alerts");
  CHECK(stored > 0);
  CHECK(stored < static_cast<int64_t>(read));
  fs::remove_all(dir);
}
