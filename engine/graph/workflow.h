// Workflows: YAML graphs of typed actors. Loading is in two steps so plugins named in the file can
// register their types before the graph is checked:
//   parse_workflow (text, ${VAR:-default}, YAML)  ->  plugins  ->  build_workflow (check, resolve)
// Every problem is collected with its FILE:LINE:COL; nothing runs if there is any.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/actor_config.h"
#include "engine/graph/actor_registry.h"
#include "engine/graph/actor_type.h"

namespace ebs {

struct WorkflowDocument {
  std::string file;
  YAML::Node root;
  // Actors whose config paths resolve against another file than `file` (by actor id): on a cluster node,
  // the copy of the workflow's folder that holds the files shipped to it; an empty name: none shipped
  // (no instance there; docs/cluster.md "What a node needs"), its check hook is not run.
  std::map<std::string, std::string> config_files;
};

// An input wire: the upstream actor's output port.
struct WireRef {
  std::string actor;
  std::string port;
  std::string place;
  // How records reach the instances of a parallel receiver (engine/runtime/partition.h): "any",
  // "broadcast" or a key; resolved at build time (the input port's state_key, else "any").
  std::string partition;
  std::string partition_place;  // where `partition:` is written, if it is
};

// The partition words: "any", "broadcast", and the keys a record can be partitioned by. A key is
// the record's own key (Record::key): an alert's or a coincidence's object id, a sky event's event
// id; both names are accepted so that a workflow says what it means.
std::vector<std::string> partition_words();
bool is_partition_key(std::string_view word);

struct ActorSpec {
  std::string id;
  std::string type_name;
  const ActorType* type = nullptr;
  YAML::Node config_node;
  size_t parallelism = 1;
  // Sources: `rate:` (records/s over all instances) and `burst: {every_s, alerts}`, the engine's
  // offer schedule for any source (engine/runtime/offer_schedule.h); 0: as fast as it can.
  double rate = 0;
  double burst_every_s = 0;
  uint64_t burst_records = 0;
  YAML::Node placement;  // reserved for clusters
  std::map<std::string, std::vector<WireRef>> inputs;  // input port -> upstream ports
  std::string file;
  std::string place;
  bool has_problems = false;  // set while validating: later checks skip what is already wrong
  ActorConfig config() const;
};

struct Workflow {
  std::string file;
  std::string name;
  std::string description;
  std::vector<std::string> plugins;
  std::string dead_letters_path = "dead-letters.jsonl";
  size_t batch_size = 1024;
  std::chrono::microseconds batch_delay{5000};
  // The longest a graceful stop (SIGINT/SIGTERM, or the end of every source) may take to drain
  // what is in flight; then what is still held is abandoned and the run exits 1. 0: no bound.
  double drain_timeout_s = kDefaultDrainTimeoutS;
  static constexpr double kDefaultDrainTimeoutS = 20;
  // Each edge's credit window (docs/reliability.md "Records in flight"): `defaults:
  // {credit_window_batches, credit_window_bytes}`, overridden by `run --credit-window-batches/-bytes`.
  // A smaller window bounds memory tighter and slows a graph whose stages take turns; a larger one
  // holds more and widens what a cluster's failover may send twice (docs/cluster.md "Failures").
  int64_t credit_window_batches = kDefaultCreditWindowBatches;
  int64_t credit_window_bytes = kDefaultCreditWindowBytes;
  // A cluster run: what each link out may keep of held batches as their tokens only (`defaults:
  // {held_tokens_bytes}`, `run --held-tokens-bytes`; docs/cluster.md "Credits"). Not given (0): one
  // byte window.
  int64_t held_tokens_bytes = 0;
  static constexpr int64_t kDefaultCreditWindowBatches = 16;
  static constexpr int64_t kDefaultCreditWindowBytes = int64_t{8} << 20;
  // Larger than any of these is refused as a mistake: 65,536 batches per edge (each batch in
  // flight costs ~350 B of bookkeeping that the byte window does not count, even when empty: up to
  // ~22 MiB an edge), 1 TiB of bytes (more than a machine holds).
  static constexpr int64_t kMaxCreditWindowBatches = int64_t{1} << 16;
  static constexpr int64_t kMaxWindowBytes = int64_t{1} << 40;
  // A cluster run with `run --http` (docs/dashboard.md "In a cluster run"): what each node ships of
  // its dashboard sinks' kept records to the coordinator's page, in encodings: at most
  // dashboard_shipment_bytes every 0.5 s (2 MiB: ~150 ZTF alerts with cutouts a second), and at
  // most dashboard_final_shipment_bytes in the shipment before its books at the end and after a
  // drain cut (not given: four shipments), so that a sink keeping many records neither holds the
  // books back long nor encodes gigabytes; the older over a budget are skipped, counted. `defaults:
  // {dashboard_shipment_bytes, dashboard_final_shipment_bytes}`: a node's, not a sink's (one shipper
  // ships every dashboard sink of a node); the coordinator sends each node the run's budgets, its
  // `run` flags over these (engine/cluster/feed_shipper.h feed_budgets).
  int64_t dashboard_shipment_bytes = kDefaultDashboardShipmentBytes;
  int64_t dashboard_final_shipment_bytes = kFinalShipments * kDefaultDashboardShipmentBytes;
  // Whether `defaults:` gave dashboard_final_shipment_bytes (not: it follows the shipment's, the
  // workflow's or the run flag's).
  bool dashboard_final_shipment_given = false;
  static constexpr int64_t kDefaultDashboardShipmentBytes = int64_t{2} << 20;
  static constexpr int64_t kFinalShipments = 4;
  // Below 64 KiB a shipment holds two ZTF alerts with their cutouts. Above: a node may have in
  // flight one shipment and, at the end, two final ones (the last ships whatever is in transit, and
  // after a drain cut it ships twice), each passed by at most one record larger than its budget,
  // into the coordinator's mailbox, which has no bound of its own: at the maxima 64 + 2 x 256 MiB a
  // node, times the nodes (docs/dashboard.md "The budgets").
  static constexpr int64_t kMinDashboardShipmentBytes = int64_t{64} << 10;
  static constexpr int64_t kMaxDashboardShipmentBytes = int64_t{64} << 20;
  static constexpr int64_t kMaxDashboardFinalShipmentBytes = kFinalShipments * kMaxDashboardShipmentBytes;
  // A cluster run (docs/cluster.md "Failures"): what happens to the instances of a node that is
  // lost. failover: they are replaced on a surviving node and what was sent to them and not
  // handled is sent again; restart: the whole run starts again on the survivors, Kafka sources
  // from their committed offsets; stop: the run ends with exit 1.
  std::string on_node_loss = "failover";
  // The workflow's `cluster: {nodes: [NAME=HOST:PORT, ...]}`, as `run --nodes` takes it
  // ("a=10.0.0.1:7101,b=..."; empty: none) and the place of `nodes`. `run --nodes` overrides it.
  std::string cluster_nodes;
  std::string cluster_place;
  std::vector<ActorSpec> actors;  // in a topological order (upstream first)

  const ActorSpec* find(const std::string& id) const;
};

// Why `value` cannot be the credit setting `key` (credit_window_batches, credit_window_bytes,
// held_tokens_bytes: from 1 to its maximum, above); empty when it can. The workflow's `defaults:`
// and the `run` flags give the same reason.
std::string credit_setting_problem(const std::string& key, int64_t value);
// A setting as written (the workflow's value, a `run` flag): its value, or why not.
struct SettingValue {
  std::optional<int64_t> value;
  std::string problem;
};
// The range of a setting in bytes, and its default as the refusal says it.
struct ByteRange {
  int64_t least = 1;
  int64_t most = 0;
  std::string default_text;
};
// A setting in bytes as written: a size (engine/util/byte_size.h: 4096, 64 KiB, 8 MiB, 8 MB ...)
// within `range`, or why not (empty text, a list or a map: the range and the forms taken).
SettingValue byte_setting(const std::string& key, const std::string& text, const ByteRange& range);
// What a dashboard budget may be: dashboard_shipment_bytes (`final` false) or
// dashboard_final_shipment_bytes, as the workflow's `defaults:` and the `run` flags take them.
ByteRange dashboard_budget_range(bool final);
std::string byte_setting_problem(const std::string& key, int64_t value, const ByteRange& range);
// credit_window_batches: a whole number; the bytes keys: a size (engine/util/byte_size.h: 4096,
// 64 KiB, 8 MiB ...); then the range above. Empty text (a list, a map) gives the range.
SettingValue credit_setting(const std::string& key, const std::string& text);
std::string credit_setting_problem(const std::string& key, const std::string& text);

// ${VAR}, ${VAR:-default} and $$ (a literal $) in the workflow text. An unset variable without a
// default is a problem at its place.
std::string expand_variables(std::string_view text, const std::string& file,
                             std::vector<Problem>& problems);

// Reads, expands and parses the file. A YAML syntax error is a problem with its place.
std::optional<WorkflowDocument> parse_workflow(const std::string& path, std::vector<Problem>& problems);
std::optional<WorkflowDocument> parse_workflow_text(std::string_view text, const std::string& file,
                                                    std::vector<Problem>& problems);

// The `plugins:` list, with relative paths resolved against the workflow's folder.
std::vector<std::string> workflow_plugins(const WorkflowDocument& document);

// `--set actor.key=value`: split at the first dot only (librdkafka keys contain dots).
void apply_overrides(WorkflowDocument& document, const std::vector<std::string>& overrides,
                     std::vector<Problem>& problems);

// Checks everything (types, config keys and values, ports, wiring, cycles, duplicates) and
// resolves the graph. Returns nothing when there is any problem.
std::optional<Workflow> build_workflow(const WorkflowDocument& document,
                                       const ActorRegistry& registry, std::vector<Problem>& problems);

std::string format_problem(const Problem& problem);

}  // namespace ebs
