// What the instances of one `filters` actor share in a run (docs/filters.md, "Changes without a
// restart"): the switch points they agree on (each with its owners' limits), the log of the
// versions that took effect and the pauses of filters that failed. In one process the filter
// registry's store itself; on a node of a cluster run, the coordinator's store, asked through the
// node's connection to the coordinator (engine/cluster/coordinator_requests.h): one registry is the
// truth, the one the coordinator's `/api/filters` serves, and every instance on every node claims
// its batches there.
#pragma once

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
  // FilterRegistry::claim for this actor's run: the instance, at its batch `batch` (a source
  // sequence), evaluates its batches up to `through` with what it knows after this call (short of
  // Claim::next_point, when the answer left points out).
  virtual Claim claim(int64_t instance, int64_t batch, int64_t through, int64_t known_revision) = 0;
  // The run's attempt the effects are logged under: kFirstAttempt in one process; on a node, the
  // epoch of the attempt it runs (a restart's is higher).
  virtual int64_t attempt() const = 0;
  // One switch point's effects at an instance (noted as applied by its index), and the filters that
  // failed (id -> why), in one call each.
  virtual void record_effects(int64_t instance, int64_t revision, const std::vector<FilterRegistry::Effect>& effects) = 0;
  virtual void pause_for_failures(const std::map<int64_t, std::string>& reasons) = 0;
  // What the instance's outputs counted since it last added (FilterRegistry::add_output_counts).
  virtual void add_output_counts(const std::vector<FilterRegistry::CountsAdded>& counts) = 0;
  // Whether each claim is a round trip to the coordinator (on a node), where an instance claims
  // ahead of its batch by its `claim_ahead_ms` (docs/filters.md, "In a cluster run"); in one
  // process a claim is a transaction on the local store, made for each batch.
  virtual bool remote() const = 0;
};

// The store at `path`, for the instances of this process whose run is `run`.
std::unique_ptr<SwitchStore> local_switch_store(const std::string& path, std::string run);
// The coordinator's store of the `filters` actor `actor_id`, through this node's `requests` (attached).
std::unique_ptr<SwitchStore> coordinator_switch_store(const cluster::CoordinatorRequests& requests, std::string actor_id);
// Has the coordinator answer the nodes' requests: each on the store of the actor's `registry` as
// the coordinator resolves it (the store its `run --http` serves).
void serve_switch_stores(cluster::CoordinatorRequests& requests);

}  // namespace ebs::filter_registry
