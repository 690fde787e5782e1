// Requests an actor instance on a node of a cluster run makes to the run's coordinator, for what
// must be one for the whole run and cannot live on each node: the `filters` actor's switch points
// and effect log, which the coordinator's filter registry holds (docs/filters.md, "In a cluster
// run"). Requests go as CAF messages over the node's existing connection to the coordinator; no
// file is shared between machines.
//
// One object per process, owned by main(): the actor types that ask hold a pointer to it (as the
// dashboard sink holds main()'s feed). On a node, run_node attaches it to the coordinator of the run
// in hand; on the coordinator, run_on_cluster serves the requests with the handlers given here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace caf {
class actor;
class actor_system;
class blocking_actor;
class node_id;
}  // namespace caf

namespace ebs {
struct Workflow;
}

namespace ebs::cluster {

class CoordinatorRequests {
 public:
  // Answers one request of a service on the coordinator (faults become the node's faults). `run`
  // names this run's attempt (the coordinator's process, its start and the attempt's epoch): what
  // one attempt agrees on is not another's (a restart numbers its sources' batches from 1 again).
  // `attempt` is that epoch, the asking node's (the server refuses any other than the run's).
  using Handler = std::function<std::string(const Workflow& workflow, const std::string& run, uint64_t attempt,
                                            const std::string& request)>;

  // ---- the coordinator ----
  void serve(const std::string& service, Handler handler) { handlers_[service] = std::move(handler); }
  // The actor that answers the nodes' requests of this run, one request at a time (a handler may
  // wait on a file lock: it holds one of the coordinator's scheduler threads meanwhile). Without
  // handlers, an actor that refuses every request.
  caf::actor spawn_server(caf::actor_system& system, const Workflow& workflow) const;
  // Fencing ("Failures", docs/cluster.md), told by the coordinator's actor (the server takes it
  // from no other process): every request of the node `lost` is refused from now on, as is every
  // request of an attempt before `attempt` (a restart's). A refusal is a fault on the asking node.
  static void fence_node(caf::blocking_actor& coordinator, const caf::actor& server, const caf::node_id& lost);
  static void begin_attempt(caf::blocking_actor& coordinator, const caf::actor& server, uint64_t attempt);

  // ---- a node ----
  // Whether this process is a node with a run in hand: its actors then ask the coordinator.
  bool attached() const;
  // This node's name ("" when not attached): instances say where they run in what they log.
  std::string node_name() const;
  // The epoch of the attempt this node runs (kFirstEpoch until a restart; 0 when not attached): what
  // its requests carry, and what the coordinator's handlers are given.
  uint64_t attempt() const;
  // Asks the coordinator and waits for the answer; a Fault when it does not answer (it is lost: the
  // node stops anyway) or a handler failed.
  std::string ask(const std::string& service, const std::string& request) const;

  // run_node: the server of the coordinator's run (`server`, from the prepare message), this node's
  // name and the attempt's epoch; detach at the end of the run.
  void attach(caf::actor_system& system, const caf::actor& server, const std::string& node, uint64_t attempt);
  void set_attempt(uint64_t attempt);
  void detach();

 private:
  std::map<std::string, Handler> handlers_;
  struct Line;  // the node's side: the actor system and the coordinator's server
  mutable std::mutex mutex_;
  std::shared_ptr<Line> line_;
};

}  // namespace ebs::cluster
