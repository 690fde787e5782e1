// Issue 14: one workflow across several `ebs-flow node` processes (docs/cluster.md), through the
// binary with real processes on loopback: the same records and annotations as one process, the
// books of every instance on every node balanced, and what must be refused before any record flows.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ebs::test;

namespace {

std::string ebs_flow() { return (binary_dir() / "ebs-flow").string(); }

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("ebs-cluster-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Simulated alerts (a few corrupt: dead letters) through filter -> crossmatch (2 instances, one
// per node) -> coincidence (2 instances, keyed by object, the other way round) -> sinks, with the
// real LVK notice of S230518h. The single-process run ignores the placements. The crossmatch is
// keyed by object too: the coincidence keeps the first alert of an object in the sky map, and two
// instances taking any alert (`any`) may reorder an object's alerts, in one process as on two.
std::string parity_workflow(const std::string& extra_placement = "") {
  return R"(name: cluster-parity
actors:
  - id: notices
    type: notice-files
    config: {path: "${EBS_TEST_DATA}/gcn/lvk-fink-mm/S230518h-initial.json"}
  - id: sim
    type: simulator
    config: {count: 12000, seed: 11, corrupt_fraction: 0.002, ra_min: 85, ra_max: 105, dec_min: -20, dec_max: 0, start_mjd: 60082.6}
  - id: bright
    type: filter
    config: {where: "mag < 20.5"}
    inputs: [sim.alerts]
  - id: xm
    type: crossmatch
    parallelism: 2
    placement: {nodes: [node1, node2], per_node: 1}
    config:
      catalogues:
        - {file: )" + (source_dir() / "catalogs" / "gaia-dr3-1000.yaml").string() + R"(, radius_arcsec: 3600, name: gaia}
    inputs: {in: {from: bright.out, partition: object_id}}
  - id: coinc
    type: coincidence
    parallelism: 2
    placement: {nodes: [node2, node1], per_node: 1}
    inputs: {alerts: xm.out, events: {from: notices.events, partition: broadcast}}
  - id: coincidences
    type: jsonl
    config: {path: coincidences.jsonl}
    inputs: [coinc.coincidences]
    placement: {nodes: [)" + (extra_placement.empty() ? "node2" : extra_placement) + R"(]}
  - id: matched
    type: jsonl
    config: {path: matched.jsonl, with_raw: false}
    inputs: [xm.out]
    placement: {nodes: [node1]}
)";
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// The lines of a JSON-lines file as a sorted list of parsed values (instances interleave rows).
std::vector<json> rows(const fs::path& path) {
  std::vector<json> out;
  std::istringstream lines(read_file(path));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) { return a.dump() < b.dump(); });
  return out;
}

// A loopback port nothing listens on.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("--local-cluster 2 gives the records and annotations of one process; every instance's books balance") {
  ::setenv("EBS_TEST_DATA", data_dir().c_str(), 1);
  fs::path dir = temp_dir("parity");
  write(dir / "workflow.yaml", parity_workflow());
  auto single = run_command(ebs_flow() + " run workflow.yaml -q --no-progress --run-dir one --summary-json one.json", dir);
  REQUIRE_MESSAGE(single.exit_code == 0, single.err);
  auto cluster = run_command(
      ebs_flow() + " run workflow.yaml -q --no-progress --local-cluster 2 --threads 1 --run-dir two --summary-json two.json", dir);
  REQUIRE_MESSAGE(cluster.exit_code == 0, cluster.err);

  const auto one_rows = rows(dir / "one" / "coincidences.jsonl");
  CHECK(one_rows.size() > 0);
  CHECK_MESSAGE(rows(dir / "two" / "coincidences.jsonl") == one_rows, "the coincidence rows differ");
  const auto matched = rows(dir / "one" / "matched.jsonl");
  CHECK(matched.size() > 1000);
  CHECK_MESSAGE(rows(dir / "two" / "matched.jsonl") == matched, "the crossmatched alerts differ");
  // The corrupt alerts are dead letters in both runs (sent across to the first node's sink).
  CHECK(rows(dir / "two" / "dead-letters.jsonl").size() == rows(dir / "one" / "dead-letters.jsonl").size());
  CHECK(rows(dir / "one" / "dead-letters.jsonl").size() > 0);

  json one = json::parse(read_file(dir / "one.json")), two = json::parse(read_file(dir / "two.json"));
  CHECK(two["accounting_ok"] == true);
  REQUIRE(one["actors"].size() == two["actors"].size());
  std::set<std::string> nodes_seen;
  for (size_t i = 0; i < one["actors"].size(); ++i) {
    const json &a = one["actors"][i], &b = two["actors"][i];
    CHECK(a["id"] == b["id"]);
    for (const char* field : {"in", "forwarded", "filtered", "failed", "dead_letters", "emitted"}) {
      const std::string what = a["id"].get<std::string>() + " " + field;
      CHECK_MESSAGE(a[field] == b[field], what);
    }
    REQUIRE(b["instances"].size() == b["parallelism"].get<size_t>());
    for (const json& inst : b["instances"]) {
      CHECK(inst["balanced"] == true);
      nodes_seen.insert(inst["node"].get<std::string>());
    }
  }
  CHECK(nodes_seen == std::set<std::string>{"node1", "node2"});
  // Where the placements put them.
  for (const json& a : two["actors"]) {
    if (a["id"] == "xm") CHECK(a["instances"][1]["node"] == "node2");
    if (a["id"] == "coinc") CHECK(a["instances"][0]["node"] == "node2");
  }
  CHECK(two["cluster"]["nodes"].size() == 2);
  CHECK(two["cluster"]["links_between_nodes"].get<size_t>() > 0);
  fs::remove_all(dir);
}

TEST_CASE("a placement naming an unknown node is refused at its place before any record flows") {
  ::setenv("EBS_TEST_DATA", data_dir().c_str(), 1);
  fs::path dir = temp_dir("unknown");
  const std::string text = parity_workflow("node3");
  write(dir / "workflow.yaml", text);
  const auto line = std::count(text.begin(), text.begin() + text.find("node3"), '\n') + 1;
  auto r = run_command(ebs_flow() + " run workflow.yaml -q --no-progress --local-cluster 2 --run-dir out", dir);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("workflow.yaml:" + std::to_string(line) + ":") != std::string::npos, r.err);
  CHECK(r.err.find("unknown node 'node3'") != std::string::npos);
  CHECK(!fs::exists(dir / "out" / "coincidences.jsonl"));
  fs::remove_all(dir);
}

TEST_CASE("a node that does not answer is an error before any record flows") {
  ::setenv("EBS_TEST_DATA", data_dir().c_str(), 1);
  fs::path dir = temp_dir("silent");
  write(dir / "workflow.yaml", parity_workflow());
  const std::string nodes = "node1=127.0.0.1:" + std::to_string(closed_port()) + ",node2=127.0.0.1:" +
                            std::to_string(closed_port());
  auto r = run_command(ebs_flow() + " run workflow.yaml -q --no-progress --nodes " + nodes + " --run-dir out", dir);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("node 'node1' at 127.0.0.1:") != std::string::npos, r.err);
  CHECK(r.err.find("does not answer") != std::string::npos);
  CHECK(!fs::exists(dir / "out" / "matched.jsonl"));
  fs::remove_all(dir);
}

TEST_CASE("a node of another ebs-flow version is refused at the handshake") {
  ::setenv("EBS_TEST_DATA", data_dir().c_str(), 1);
  fs::path dir = temp_dir("version");
  write(dir / "workflow.yaml", parity_workflow());
  // A BASP peer that says it is another ebs-flow version (what a node of another release says).
  caf::actor_system_config config;
  config.load<caf::io::middleman>();
  config.set("middleman.app-identifiers", std::vector<std::string>{"ebs-flow 0.0.0-another"});
  caf::actor_system system(config);
  auto peer = system.spawn([]() -> caf::behavior { return {[](int) {}}; });
  auto port = system.middleman().publish(peer, 0, "127.0.0.1");
  REQUIRE(port);
  const std::string nodes = "node1=127.0.0.1:" + std::to_string(*port) + ",node2=127.0.0.1:" + std::to_string(*port);
  auto r = run_command(ebs_flow() + " run workflow.yaml -q --no-progress --nodes " + nodes + " --run-dir out", dir);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("runs another ebs-flow version") != std::string::npos, r.err);
  CHECK(!fs::exists(dir / "out" / "matched.jsonl"));
  caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
  fs::remove_all(dir);
}
