// One edge of the graph between two nodes: a link out on the sending node stands for the remote
// downstream instance (the upstream sends it batches and takes credit from it as from any
// instance), a link in on the receiving node stands for the remote upstream instance.
//
// Records cross as Cap'n Proto encodings (engine/model/record_wire.h), split into messages of at
// most kMaxMessageBytes. Credit is end to end: the link out gives the upstream back a batch's
// credit (one batch and the bytes it spent) once the receiving instance took the batch, as an
// edge in one process does, so the edge's window bounds what is in flight across the network
// (BASP has no back-pressure of its own). Batches taken but not yet released stay kept for a
// replay, up to HeldLimits::records_bytes; past it the oldest of them are no longer kept whole
// (their records go, their tokens stay until released: engine/cluster/held_tokens.h), up to
// HeldLimits::tokens_bytes, so the edge does not wait on an actor that holds acknowledgements
// unless it holds more than both allow; past both a taken batch's credit waits for a release, and
// the link's memory stays bounded in bytes. A node loss replays the unreleased batches still kept:
// at most the window plus the records' limit (docs/cluster.md "Failures"); those kept as tokens
// only are abandoned, and counted (not replayed).
//
// Acknowledgements: the link out keeps each batch (its records and tokens) until the receiving
// node reports that the batch's records were handled (released); the link in gives the batch one
// token of its own whose last release sends that report, abandoned if any holder abandoned it or
// the receiving node tore its run down.
//
// Node loss (docs/cluster.md "Failures"): a link out whose peer is lost keeps what it holds and
// waits. Its node then rebinds it to the lost instance's replacement (peer), and it replays every
// batch not yet released, in order and paced by the replacement's credit (the edge's window, in
// batches and bytes), then the stream time and the end of stream; or its node tells it the peer is
// gone for good (abandon): every token kept is abandoned, never acknowledged. A link in for an
// edge from a lost instance is fenced (its epoch raised) and then serves the replacement: a local
// one passes batches as they are.
#pragma once

#include <caf/all.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

#include "engine/runtime/ack.h"
#include "engine/runtime/batch.h"
#include "engine/runtime/credit_window.h"

namespace ebs::cluster {

// What the links of one node did (for the summary of a run).
struct LinkCounters {
  std::atomic<uint64_t> batches_sent{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> batches_abandoned{0};
  std::atomic<uint64_t> batches_replayed{0};  // sent again to a lost instance's replacement
  std::atomic<uint64_t> records_replayed{0};  // their records: the most duplicates a loss can make
  // Unreleased batches a replay could not send (only their tokens were kept, past the held cap):
  // abandoned (also counted in batches_abandoned), their records possibly missing from the sinks.
  std::atomic<uint64_t> batches_not_replayed{0};
  std::atomic<uint64_t> records_not_replayed{0};
  std::atomic<uint64_t> batches_unkept{0};  // held batches whose records were let go past the held cap
  // What the links out keep of held batches as tokens only (engine/cluster/held_tokens.h): now
  // (all running links of the node; a link that ends takes its part out) and the most one link
  // kept at once.
  std::atomic<int64_t> held_tokens_bytes{0};
  std::atomic<int64_t> held_tokens_peak_bytes{0};
  // Taken batches whose credit waited for a release: both held bounds of their link were full.
  std::atomic<uint64_t> credits_held_back{0};
  // The most batches one link held back at once between messages (a release finds its own among them).
  std::atomic<uint64_t> held_back_peak{0};
  std::atomic<uint64_t> messages_refused{0};  // from a fenced (lost) node, refused by a link in
};

// What a link out keeps of batches the receiving instance took but its node has not released (an
// actor holding their acknowledgements, a sink still writing them).
struct HeldLimits {
  // Their records, for a replay. Past it the oldest held batches are kept as their tokens only
  // (not replayable); one batch is always kept whole.
  int64_t records_bytes = 0;
  // Those kept as tokens only, as HeldTokens::entry_bytes counts them. Past it (and past
  // records_bytes) a taken batch's credit waits for a release; 0: never tokens only.
  int64_t tokens_bytes = 0;
};

// What a link out's keeping a held batch whole costs beyond its records' bytes, as the held cap
// counts it (the same estimate of glibc's blocks as HeldTokens::entry_bytes): its window entry, its
// place among the held batches, the batch, its record pointers, and its tokens, counted whole
// although other holders may share them.
int64_t kept_entry_bytes(const BatchView& batch);

// The held limits of an edge of `credit_bytes` in flight (0: unlimited, counted as 8 MiB, the
// default window): eight windows of records and `tokens_bytes` of tokens (RunOptions::
// held_tokens_bytes; 0: one window).
HeldLimits held_limits(int64_t credit_bytes, int64_t tokens_bytes = 0);

// Spawns a link out for an edge of `window` (what may be in flight to its peer; a replay is paced
// by it); it learns its peer from (peer, handle, epoch, local), its upstream from the first
// message it gets from it, and tells `node` (drained, bool) whenever whether it holds nothing and
// its upstream ended changes. It ends when its node kills it at the end of the run.
caf::actor spawn_link_out(caf::actor_system& system, caf::actor node, std::shared_ptr<LinkCounters> counters,
                          CreditLimits window, HeldLimits held);

// Spawns a link in for local `target` (input port numbers travel with the batches). `run` is told
// (fault, target_index, what, true) when a batch cannot be decoded; `scope` is the node's run.
// The token a link in gives a batch received from another node: its last release tells `sender`
// (released, epoch, seq, abandoned). It keeps the batch's source sequence
// (engine/runtime/source_sequence.h).
AckRef stand_in_token(std::shared_ptr<AckTracker> tracker, uint64_t records, caf::actor sender,
                      std::shared_ptr<const AckScope> scope, uint64_t epoch, uint64_t seq, uint64_t source_seq);

caf::actor spawn_link_in(caf::actor_system& system, caf::actor target, uint64_t target_index, caf::actor run,
                         std::shared_ptr<AckScope> scope, std::shared_ptr<LinkCounters> counters);

}  // namespace ebs::cluster
