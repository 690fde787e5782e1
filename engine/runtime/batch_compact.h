// A narrowed batch (BatchView::select) shares, and so keeps alive, every record of the batch it
// was narrowed from. Whatever keeps a narrowed batch for long and counts what it keeps by its own
// records (a link out's held batches, a sink's batch until it lets go) copies it first into a
// batch of its own records.
#pragma once

#include "engine/runtime/batch.h"

namespace ebs {

// The records of `view` (pointers only, no record is copied) and its acknowledgement tokens, in a
// batch of their own when `view` is narrowed; a whole view as it is.
BatchView compact_batch(const BatchView& view);

}  // namespace ebs
