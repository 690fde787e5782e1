// Where sources cut their batches in bytes: a batch ends at `batch_size` records (the workflow's
// defaults) or once its records hold this many bytes, whichever comes first. Four batches of it
// fill an edge's default byte window (8 MiB, Workflow::kDefaultCreditWindowBytes), so a batch of big
// alerts (ZTF: ~100 KB each decoded, ~20 to a batch) never waits for an empty edge.
// docs/reliability.md "Limits".
#pragma once

#include <cstddef>

namespace ebs {

inline constexpr std::size_t kSourceBatchBytes = std::size_t{2} << 20;

}  // namespace ebs
