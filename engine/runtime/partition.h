// How the records on one edge reach the instances of a parallel actor (docs/workflow-format.md,
// "Parallel actors"):
//   any        each batch to one instance with credit (stateless actors): one on the sender's
//              node while any of those has credit, else the one with the most credit; a cluster
//              edge costs encoding and decoding, so crossing is for when the local ones are full
//   broadcast  every batch to every instance (e.g. sky events that every instance must know)
//   keyed      each record to the instance its key hashes to, so one instance sees all the
//              records of one key (an object's alerts) and keeps that key's state alone
// The hash is FNV-1a of the key's bytes: the same key goes to the same instance in every run and
// on every machine, which a cluster's placement and a restart from Kafka offsets rely on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/graph/workflow.h"
#include "engine/runtime/batch.h"
#include "engine/runtime/credit_window.h"

namespace ebs {

enum class PartitionMode : uint8_t { any, broadcast, keyed };

// A WireRef's partition word (engine/graph/workflow.h, partition_words()) as a mode.
PartitionMode partition_mode(std::string_view word);

// The instance (0 .. instances-1) a key goes to.
size_t instance_for_key(std::string_view key, size_t instances);

// One instance an `any` edge may send to: its window and whether it runs on another node.
struct AnyTarget {
  const CreditWindow* credit;
  bool remote;
};

// The instance an `any` batch goes to now, or nothing while none may take it. A local instance
// with credit first (the most credit among them). Otherwise a remote one with credit; when the
// sender has local instances, a remote one only while no more than half its window is in flight:
// a remote instance that is also fed on its own node then gets a small share of this sender's
// records, and one fed by this sender alone stays busy (credit comes back every half window).
std::optional<size_t> instance_for_any(const std::vector<AnyTarget>& targets);

// The positions of the batch's records going to each instance (one list per instance, ascending).
std::vector<std::vector<uint32_t>> split_by_key(const BatchView& batch, size_t instances);

// The latest observation time (MJD TAI) of an alert batch, or NaN: what advances the stream's clock.
double latest_record_time(const BatchView& batch);

}  // namespace ebs
