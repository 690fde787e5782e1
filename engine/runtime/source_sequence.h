// The source batch a batch comes from: what the `filters` actor's switch points are numbered by
// (docs/filters.md, "Changes without a restart"). A source numbers its batches 1, 2, 3, ... (the
// acknowledgement token each batch carries, engine/runtime/ack.h); a narrowed view or an annotated
// copy keeps the tokens, and a batch made of several counts as the latest.
//
// A batch that crossed a link to another node (engine/cluster/link.h) holds a token of the link
// instead, whose own sequence is the link's numbering. That stand-in keeps the source's sequence
// in its deleter (the release that reports to the sending node), so that instances of one actor
// on different nodes read the same numbers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "engine/runtime/batch.h"

namespace ebs {

// The deleter of a token that stands on one node for a batch sent from another: `release` runs when
// the last holder lets go; `source_sequence` is the sequence of the batch at its source (0: none).
struct StandInRelease {
  uint64_t source_sequence = 0;
  std::function<void(const AckToken*)> release;
  void operator()(const AckToken* token) const { release(token); }
};

// The source sequence of one token: a stand-in's source's, else its own.
std::optional<uint64_t> source_sequence(const AckRef& token);
// The latest source sequence among the batch's tokens; none when it has no token.
std::optional<uint64_t> source_sequence(const BatchView& batch);

}  // namespace ebs
