#include "engine/runtime/source_sequence.h"

#include <algorithm>

namespace ebs {

std::optional<uint64_t> source_sequence(const AckRef& token) {
  if (!token) return std::nullopt;
  if (const auto* stand_in = std::get_deleter<StandInRelease>(token)) {
    if (stand_in->source_sequence == 0) return std::nullopt;
    return stand_in->source_sequence;
  }
  return token->sequence();
}

std::optional<uint64_t> source_sequence(const BatchView& batch) {
  std::optional<uint64_t> out;
  for (const AckRef& ack : batch.acks())
    if (auto s = source_sequence(ack)) out = std::max(out.value_or(0), *s);
  return out;
}

}  // namespace ebs
