// One edge of the graph between two nodes: a link out on the sending node stands for the remote
// downstream instance (the upstream sends it batches and takes credit from it as from any
// instance), a link in on the receiving node stands for the remote upstream instance.
//
// Records cross as Cap'n Proto encodings (engine/model/record_wire.h), split into messages of at
// most kMaxMessageBytes. Credit is end to end: the receiving instance grants the link in, which
// passes the grant back to the link out, which grants the upstream the bytes the upstream spent on
// those batches (FIFO: an instance consumes one upstream's batches in order). So the windows in
// batches and bytes bound what is in flight across the network (BASP has none of its own).
//
// Acknowledgements: the link out keeps each batch's tokens until the receiving node reports that
// the batch's records were handled (released); the link in gives the batch one token of its own
// whose last release sends that report, abandoned if any holder abandoned it or the receiving
// node tore its run down. A lost peer abandons every token still kept (engine/runtime/ack.h).
#pragma once

#include <caf/all.hpp>

#include <memory>

#include "engine/runtime/ack.h"

namespace ebs::cluster {

// What the links of one node did (for the summary of a run).
struct LinkCounters {
  std::atomic<uint64_t> batches_sent{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> batches_abandoned{0};
};

// Spawns a link out; it learns its peer (a link in) from (peer, handle), its upstream from the
// first message it gets from it. It ends once its upstream ended and every batch was released.
caf::actor spawn_link_out(caf::actor_system& system, std::shared_ptr<LinkCounters> counters);

// Spawns a link in for local `target` (input port numbers travel with the batches). `run` is told
// (fault, target_index, what, true) when a batch cannot be decoded; `scope` is the node's run.
caf::actor spawn_link_in(caf::actor_system& system, caf::actor target, uint64_t target_index, caf::actor run,
                         std::shared_ptr<AckScope> scope);

}  // namespace ebs::cluster
