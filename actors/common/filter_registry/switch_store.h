// What the instances of one `filters` actor share in a run (docs/filters.md, "Changes without a
// restart"): the switch points they agree on (each with its owners' limits), the log of the
// versions that took effect and the pauses of filters that failed. In one process the filter
// registry's store itself; on a node of a cluster run, the coordinator's store, asked through the
// node's connection to the coordinator (engine/cluster/coordinator_requests.h): one registry is the
// truth, the one the coordinator's `/api/filters` serves, and every instance on every node claims
// its batches there.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/common/filter_registry/filter_registry.h"

namespace ebs::cluster {
class CoordinatorRequests;
}

namespace ebs::filter_registry {

class SwitchStore {
 public:
  virtual ~SwitchStore() = default;
  // The store, for messages (its path, on this process or the coordinator).
  virtual std::string describe() const = 0;
  // FilterRegistry::claim for this actor's run: the instance evaluates its batches up to
  // `through` (a source sequence) with what it knows after this call.
  virtual Claim claim(int64_t instance, int64_t through, int64_t known_revision) = 0;
  // One switch point's effects at an instance (noted as applied by its index), and the filters that
  // failed (id -> why), in one call each.
  virtual void record_effects(int64_t instance, int64_t revision, const std::vector<FilterRegistry::Effect>& effects) = 0;
  virtual void pause_for_failures(const std::map<int64_t, std::string>& reasons) = 0;
  // How much of its stream an instance claims ahead of its batch: none in one process (a claim is
  // a transaction on the local store), a quarter of a second on a node, where each claim is a
  // round trip to the coordinator (docs/filters.md, "In a cluster run").
  virtual std::chrono::milliseconds claim_ahead() const = 0;
};

// The store at `path`, for the instances of this process whose run is `run`.
std::unique_ptr<SwitchStore> local_switch_store(const std::string& path, std::string run);
// The coordinator's store of the `filters` actor `actor_id`, through this node's `requests` (attached).
std::unique_ptr<SwitchStore> coordinator_switch_store(const cluster::CoordinatorRequests& requests, std::string actor_id);
// Has the coordinator answer the nodes' requests: each on the store of the actor's `registry` as
// the coordinator resolves it (the store its `run --http` serves).
void serve_switch_stores(cluster::CoordinatorRequests& requests);

}  // namespace ebs::filter_registry
