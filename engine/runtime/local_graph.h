// The instances of a workflow and their wiring, as one process spawns them. A single-process run
// spawns every instance; a cluster node (engine/cluster/) spawns those placed on it and reaches the
// others through links that stand for them. Every process enumerates the instances in the same
// order (downstream first, the implicit dead-letter sink first of all), so an instance's index
// names it on every node.
#pragma once

#include <caf/all.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/graph/workflow.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/actor_stats.h"
#include "engine/runtime/credit_window.h"

namespace ebs {

struct LiveActor;
struct RunResult;

struct GraphInstance {
  const ActorSpec* spec = nullptr;
  size_t instance = 0;
  std::shared_ptr<ActorStats> stats;
  std::shared_ptr<ActorLogic> logic;  // local instances only
  caf::actor handle;                  // local instances only, once spawned
  bool local = true;
  bool done = false;
  bool ended = false;  // sent its done message: its logic and stats are no longer touched
  std::string node;    // in a cluster: the node it runs on
  // What its logic reports once it ended (ActorLogic::output, closing_warnings): read from a
  // local instance's logic by LocalGraph::read_reports, sent by a node for a remote one.
  std::string output;
  std::vector<std::string> warnings;
  std::map<std::string, uint64_t> counters;  // ActorCounters, when its logic has them
};

// One wire between an upstream instance and a downstream instance: `output` is the upstream's
// output port (its dead letters: one past its declared outputs), `in_port` the downstream's input.
struct EdgeKey {
  size_t from = 0;
  size_t output = 0;
  size_t to = 0;
  uint32_t in_port = 0;
  std::string text() const;
};

struct SpawnOptions {
  std::string run_dir;
  CreditLimits credit;
  bool overwrite = false;
  std::shared_ptr<AckScope> acks;
  // Which instances this process runs (by index); none given: all.
  std::function<bool(size_t index)> local;
  // A local upstream instance sends to a downstream instance of another process: the handle that
  // stands for that downstream instance on this edge.
  std::function<caf::actor(const EdgeKey&)> link_out;
  // An upstream instance of another process sends to a local downstream instance (spawned).
  std::function<void(const EdgeKey&, const caf::actor& downstream)> link_in;
  // A cluster node replacing the instances of a lost node (docs/cluster.md "Failures"): only the
  // instances `fresh` says are spawned, the others local here run already. Then a fresh upstream
  // reaches a running local downstream through `to_running` (the link in that stood for the lost
  // upstream), and a running local upstream's link to a fresh downstream is handed its handle by
  // `rebind_out`; `link_in` and `link_out` serve the edges to and from other processes.
  std::function<bool(size_t index)> fresh;
  std::function<caf::actor(const EdgeKey&)> to_running;
  std::function<void(const EdgeKey&, const caf::actor& downstream)> rebind_out;
};

class LocalGraph {
 public:
  // Fails (a Fault) when the dead-letter sink type is not registered.
  LocalGraph(const Workflow& workflow, const ActorRegistry& registry, bool overwrite);
  LocalGraph(const LocalGraph&) = delete;
  LocalGraph& operator=(const LocalGraph&) = delete;

  // Opens and spawns the local instances (or, SpawnOptions::fresh, those), downstream first; `run`
  // is told (done, index) and (fault, ...) by each. False with `errors` when an instance cannot open.
  bool spawn(caf::actor_system& system, const caf::actor& run, const SpawnOptions& options,
             std::vector<std::string>& errors);

  const Workflow& workflow() const { return workflow_; }
  const std::vector<const ActorSpec*>& specs() const { return specs_; }
  const ActorSpec& dead_letters() const { return *dead_letters_; }
  std::vector<GraphInstance>& instances() { return instances_; }
  const std::vector<GraphInstance>& instances() const { return instances_; }
  const std::vector<size_t>& instances_of(const std::string& id) const;

  std::vector<LiveActor> live_actors() const;
  // Copies what each ended local instance's logic reports (output, warnings) into its entry.
  void read_reports();
  // Per-actor totals, the accounting check, outputs, dead letters and warnings into `result`,
  // from every instance's stats (a cluster's coordinator fills the stats the nodes reported).
  void collect(RunResult& result) const;

 private:
  const Workflow& workflow_;
  std::unique_ptr<ActorSpec> dead_letters_;
  std::vector<const ActorSpec*> specs_;
  std::set<std::string> explicit_dead_letters_;
  std::vector<GraphInstance> instances_;
  std::map<std::string, std::vector<size_t>> instances_of_;
};

}  // namespace ebs
