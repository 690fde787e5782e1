// The ebs-flow binary as a user meets it: exit codes, `actors`, `graph`, `--version`, plugins,
// and a SIGTERM in the middle of an endless run that must lose nothing it counted.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ebs::test;

namespace {
std::string ebs_flow() { return (binary_dir() / "ebs-flow").string(); }
fs::path fixtures() { return source_dir() / "test" / "fixtures"; }
fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("ebs-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
}  // namespace

TEST_CASE("--version, --help and usage errors") {
  auto v = run_command(ebs_flow() + " --version", fs::current_path());
  CHECK(v.exit_code == 0);
  CHECK(v.out.find("ebs-flow ") == 0);
#ifdef EBS_JEMALLOC
  // The options are read back from the running allocator: the binary's own malloc_conf took.
  CHECK(v.out.find("allocator: jemalloc 5.") != std::string::npos);
  CHECK(v.out.find("narenas 1, dirty_decay_ms 1000, muzzy_decay_ms 0, background_thread true") != std::string::npos);
#else
  CHECK(v.out.find("allocator: glibc malloc") != std::string::npos);
#endif
  auto h = run_command(ebs_flow() + " --help", fs::current_path());
  CHECK(h.exit_code == 0);
  for (const char* command : {"run", "validate", "graph", "actors"}) CHECK(h.out.find(command) != std::string::npos);
  auto bad = run_command(ebs_flow() + " frobnicate", fs::current_path());
  CHECK(bad.exit_code == 2);
  auto missing = run_command(ebs_flow() + " run", fs::current_path());
  CHECK(missing.exit_code == 2);
}

TEST_CASE("actors lists every type from the declarations the validator uses") {
  auto r = run_command(ebs_flow() + " actors --json --plugin " + (binary_dir() / "plugins" / "libebs-example-plugin.so").string(),
                       fs::current_path());
  REQUIRE(r.exit_code == 0);
  std::map<std::string, json> types;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    json t = json::parse(line);
    types[t["type"]] = t;
  }
  for (const char* name : {"simulator", "filter", "jsonl", "count", "passthrough", "alert-check", "bright-tagger"})
    CHECK_MESSAGE(types.count(name), name);
  const json& filter = types["filter"];
  CHECK(filter["inputs"][0]["type"] == "Alert");
  CHECK(filter["config"][0]["name"] == "where");
  CHECK(filter["config"][0]["required"] == true);
  CHECK(filter["outputs"].back()["name"] == "dead_letters");
}

TEST_CASE("graph prints Graphviz dot with typed edges") {
  auto r = run_command(ebs_flow() + " graph workflow.yaml", fixtures() / "simulate-filter-sinks");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.starts_with("digraph \"simulate-filter-sinks\""));
  CHECK(r.out.find("\"sim\" -> \"bright\"") != std::string::npos);
  CHECK(r.out.find("Alert") != std::string::npos);
}

TEST_CASE("a plugin in EBS_FLOW_PLUGINS adds its own verb to the command line") {
  const std::string plugin = (binary_dir() / "plugins" / "libebs-example-plugin.so").string();
  auto bright = run_command("EBS_FLOW_PLUGINS=" + plugin + " " + ebs_flow() + " bright 17.5", fs::current_path());
  CHECK(bright.exit_code == 0);
  CHECK(json::parse(bright.out) == json{{"mag", 17.5}, {"threshold", 18}, {"bright", true}});
  auto faint = run_command("EBS_FLOW_PLUGINS=" + plugin + " " + ebs_flow() + " bright 19 --threshold 18.5",
                           fs::current_path());
  CHECK(json::parse(faint.out)["bright"] == false);
  auto help = run_command("EBS_FLOW_PLUGINS=" + plugin + " " + ebs_flow() + " --help", fs::current_path());
  CHECK(help.out.find("bright") != std::string::npos);
  auto without = run_command(ebs_flow() + " bright 17.5", fs::current_path());
  CHECK(without.exit_code == 2);  // no such verb without the plugin
  auto wrong = run_command("EBS_FLOW_PLUGINS=/nonexistent/libx.so " + ebs_flow() + " --version", fs::current_path());
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("/nonexistent/libx.so: plugin file not found") != std::string::npos);
}

TEST_CASE("a plugin built for another ABI is refused with a clear error") {
  auto r = run_command(ebs_flow() + " actors --plugin " + (binary_dir() / "plugins" / "libebs-wrong-abi-plugin.so").string(),
                       fs::current_path());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("plugin ABI 999") != std::string::npos);
  auto missing = run_command(ebs_flow() + " actors --plugin /nonexistent/libx.so", fs::current_path());
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("/nonexistent/libx.so: plugin file not found") != std::string::npos);
}

TEST_CASE("SIGTERM mid-run finishes in-flight batches, exits 0 and loses nothing counted") {
  fs::path dir = temp_dir("sigterm");
  std::ofstream(dir / "endless.yaml") << R"(name: endless
actors:
  - id: sim
    type: simulator
    config: {count: 0, rate: 200000, seed: 9}
  - id: keep
    type: filter
    config: {where: "mag < 20"}
    inputs: [sim.alerts]
  - id: out
    type: jsonl
    config: {path: out.jsonl, with_raw: false}
    inputs: [keep.out]
)";
  // SIGTERM once 10,000 alerts are written (at most 60 s), not after a fixed time: under the
  // sanitizers and load the start alone can take seconds.
  auto r = run_command("(" + ebs_flow() + " run endless.yaml --quiet --run-dir run --summary-json summary.json & pid=$!; "
                       "for i in $(seq 600); do "
                       "[ -f run/out.jsonl ] && [ $(wc -l < run/out.jsonl) -ge 10000 ] && break; sleep 0.1; done; "
                       "kill -TERM $pid; wait $pid)",
                       dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  json summary = json::parse(read_file(dir / "summary.json"));
  CHECK(summary["interrupted"] == true);
  CHECK(summary["accounting_ok"] == true);
  uint64_t made = 0, kept = 0, written = 0;
  for (const json& a : summary["actors"]) {
    if (a["id"] == "sim") made = a["forwarded"];
    if (a["id"] == "keep") kept = a["forwarded"];
    if (a["id"] == "out") written = a["forwarded"];
  }
  CHECK(made > 10000);
  CHECK(kept == written);
  std::string lines = read_file(dir / "run" / "out.jsonl");
  CHECK(static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n')) == written);
  fs::remove_all(dir);
}

TEST_CASE("the credit window reaches the run from the workflow's defaults and from run flags; bad flags are refused") {
  fs::path dir = temp_dir("credit");
  // A sink writing 400 records/s behind a filter: the filter's output window fills, then its input
  // window, so the filter's peak queue shows the window that applied (12 measured, of 12). The byte
  // window is a size with a unit (docs/workflow-format.md "Sizes"): 8 MB is 8,000,000 bytes.
  std::ofstream(dir / "w.yaml") << R"(name: credit
defaults: {batch_size: 10, credit_window_batches: 12, credit_window_bytes: 8 MB}
actors:
  - {id: sim, type: simulator, config: {count: 400, seed: 4}}
  - {id: keep, type: filter, config: {where: "mag < 99"}, inputs: [sim.alerts]}
  - {id: out, type: jsonl, config: {path: out.jsonl, with_raw: false, max_records_per_s: 400, fsync: false}, inputs: [keep.out]}
)";
  auto peaks = [&](const json& summary) {
    std::map<std::string, uint64_t> peak;
    for (const json& a : summary["actors"]) peak[a["id"].get<std::string>()] = a["peak_queued_batches"].get<uint64_t>();
    return peak;
  };
  auto from_key = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir run --summary-json key.json", dir);
  REQUIRE_MESSAGE(from_key.exit_code == 0, from_key.err);
  json key = json::parse(read_file(dir / "key.json"));
  CHECK(key["credit_window"]["batches"] == 12);
  CHECK(key["credit_window"]["bytes"] == 8000000);
  CHECK_FALSE(key["credit_window"].contains("held_tokens_bytes"));  // a cluster run's only
  CHECK(peaks(key)["keep"] > 2);  // its queue grew past what the flag allows below
  CHECK(peaks(key)["keep"] <= 12);

  auto from_flag = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir run --overwrite --summary-json flag.json "
                                            "--credit-window-batches 2 --credit-window-bytes '1 MiB'",
                               dir);
  REQUIRE_MESSAGE(from_flag.exit_code == 0, from_flag.err);
  json flag = json::parse(read_file(dir / "flag.json"));
  CHECK(flag["credit_window"]["batches"] == 2);
  CHECK(flag["credit_window"]["bytes"] == 1048576);
  CHECK(flag["accounting_ok"] == true);
  CHECK(peaks(flag)["out"] <= 2);
  CHECK(peaks(flag)["keep"] <= 2);

  // The held-tokens bound is a cluster run's: a single-process run says it does nothing, on stderr
  // (-q keeps the closing block when there are warnings) and in the summary.
  auto held = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir run --overwrite --summary-json held.json "
                                       "--held-tokens-bytes 65536",
                          dir);
  REQUIRE_MESSAGE(held.exit_code == 0, held.err);
  const std::string held_warning = "held_tokens_bytes = 65536 (run --held-tokens-bytes) applies only to a cluster run";
  CHECK_MESSAGE(held.err.find(held_warning) != std::string::npos, held.err);
  json held_summary = json::parse(read_file(dir / "held.json"));
  auto held_warnings = [&](const json& summary) {
    return std::count_if(summary["warnings"].begin(), summary["warnings"].end(),
                         [&](const json& w) { return w.get<std::string>().starts_with(held_warning); });
  };
  CHECK(held_warnings(held_summary) == 1);
  CHECK(held_warnings(key) == 0);

  // The dashboard budgets are a cluster run's serving --http: a run without says they do nothing.
  auto budget = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir run --overwrite "
                                         "--dashboard-shipment-bytes 1MiB",
                            dir);
  REQUIRE_MESSAGE(budget.exit_code == 0, budget.err);
  CHECK_MESSAGE(budget.err.find("dashboard_shipment_bytes = 1048576 (1 MiB) (run --dashboard-shipment-bytes) applies "
                                "only to a cluster run (--nodes, --local-cluster) serving --http: it does nothing in "
                                "this single-process run") != std::string::npos,
                budget.err);
  // A final budget below the shipment's is refused before any node is started, naming where each came from.
  auto below = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir below --local-cluster 1 "
                                        "--http 127.0.0.1:0 --dashboard-shipment-bytes 8MiB "
                                        "--dashboard-final-shipment-bytes 4MiB",
                           dir);
  CHECK(below.exit_code == 1);
  CHECK_MESSAGE(below.err.find("run --dashboard-final-shipment-bytes, 4194304 (4 MiB), must not be below run "
                               "--dashboard-shipment-bytes, 8388608 (8 MiB)") != std::string::npos,
                below.err);
  CHECK(below.err.find("listening") == std::string::npos);
  // Without --http they do nothing, as the warning says: not refused either.
  auto unserved = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir unserved --local-cluster 1 "
                                           "--dashboard-shipment-bytes 8MiB --dashboard-final-shipment-bytes 4MiB",
                              dir);
  CHECK_MESSAGE(unserved.exit_code == 0, unserved.err);
  CHECK_MESSAGE(unserved.err.find("it does nothing in this run without --http") != std::string::npos, unserved.err);
  CHECK(unserved.err.find("must not be below") == std::string::npos);

  // Each bad value, and the refusal it must get (after the flag's name).
  const std::vector<std::pair<std::string, std::string>> bad_flags{
      {"--dashboard-shipment-bytes 1KiB",
       "'dashboard_shipment_bytes' must be a number of bytes from 65536 (64 KiB) to 67108864 (64 MiB), default 2097152 "
       "(2 MiB), not 1024 ('1KiB')"},
      {"--dashboard-final-shipment-bytes '300 MiB'",
       "'dashboard_final_shipment_bytes' must be a number of bytes from 65536 (64 KiB) to 268435456 (256 MiB), default "
       "4 times dashboard_shipment_bytes, not 314572800 ('300 MiB')"},
      {"--credit-window-batches 0", "'credit_window_batches' must be a whole number of batches from 1 to 65536 (default 16), not 0"},
      {"--credit-window-bytes '8 XB'", "'credit_window_bytes': '8 XB' is not a size in bytes ('XB' is not a unit)"},
      {"--held-tokens-bytes -5", "'held_tokens_bytes': '-5' is not a size in bytes (no sign is taken)"},
      {"--credit-window-bytes 1099511627777",
       "'credit_window_bytes' must be a number of bytes from 1 to 1099511627776 (1 TiB), default 8388608 (8 MiB), not "
       "1099511627777"},
      {"--credit-window-bytes '2 TiB'",
       "'credit_window_bytes' must be a number of bytes from 1 to 1099511627776 (1 TiB), default 8388608 (8 MiB), not "
       "2199023255552 ('2 TiB')"},
      {"--credit-window-batches 65537",
       "'credit_window_batches' must be a whole number of batches from 1 to 65536 (default 16), not 65537"}};
  for (const auto& bad : bad_flags) {
    auto r = run_command(ebs_flow() + " run w.yaml -q --no-progress --run-dir bad " + bad.first, dir);
    INFO(bad.first << ": " << r.err);
    CHECK(r.exit_code == 2);
    const std::string flag_name = bad.first.substr(0, bad.first.find(' '));
    CHECK(r.err.find(flag_name + ": " + bad.second) != std::string::npos);
    CHECK(!fs::exists(dir / "bad"));
  }
  fs::remove_all(dir);
}

TEST_CASE("node --cache-keep-days and --cache-max-bytes refuse what they cannot take, before the node listens") {
  fs::path dir = temp_dir("node-cache-flags");
  const std::vector<std::pair<std::string, std::string>> bad_flags{
      {"--cache-keep-days -1", "--cache-keep-days: '-1' is not a number of days >= 0"},
      {"--cache-keep-days soon", "--cache-keep-days: 'soon' is not a number of days >= 0"},
      {"--cache-max-bytes 0", "--cache-max-bytes: 'cache_max_bytes' must be a number of bytes from 1 to "
                              "1125899906842624 (1024 TiB), default no cap, not 0"},
      {"--cache-max-bytes 20G", "--cache-max-bytes: 'cache_max_bytes': '20G' is not a size in bytes"}};
  for (const auto& bad : bad_flags) {
    auto r = run_command(ebs_flow() + " node --name a --listen 127.0.0.1:0 --cache-dir cache " + bad.first, dir);
    INFO(bad.first << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(bad.second) != std::string::npos);
    CHECK(r.out.empty());  // it never listened
  }
  fs::remove_all(dir);
}

TEST_CASE("run --http --linger keeps the page after the run ends, until SIGTERM") {
  fs::path dir = temp_dir("linger");
  std::ofstream(dir / "short.yaml") << R"(name: short
actors:
  - id: sim
    type: simulator
    config: {count: 500, seed: 3}
  - id: n
    type: count
    inputs: [sim.alerts]
)";
  // The run ends within a second; its page must still answer (state "ended") until SIGTERM.
  std::ofstream(dir / "check.sh") << "set -u\n" << ebs_flow()
                                  << " run short.yaml --quiet --run-dir run --http 127.0.0.1:0 --linger > out.txt 2> err.txt &\n"
                                     "pid=$!\n"
                                     "for i in $(seq 100); do grep -q dashboard out.txt && break; sleep 0.1; done\n"
                                     "url=$(sed -n 's/.*\"dashboard\":\"\\([^\"]*\\)\".*/\\1/p' out.txt)\n"
                                     "for i in $(seq 100); do curl -s \"${url}/api/stats\" | grep -q '\"ended\"' && break; sleep 0.1; done\n"
                                     "sleep 1\n"
                                     "curl -s \"${url}/api/stats\" > stats.json\n"
                                     "kill -0 $pid && echo alive\n"
                                     "kill -TERM $pid; wait $pid; echo exit=$?\n";
  auto r = run_command("bash check.sh", dir);
  INFO(r.out << r.err << read_file(dir / "err.txt"));
  CHECK(r.out.find("alive") != std::string::npos);
  CHECK(r.out.find("exit=0") != std::string::npos);
  json stats = json::parse(read_file(dir / "stats.json"));
  CHECK(stats["state"] == "ended");
  CHECK(read_file(dir / "err.txt").find("the page stays up until SIGINT/SIGTERM") != std::string::npos);
  fs::remove_all(dir);
}
