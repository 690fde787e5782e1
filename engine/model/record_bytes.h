// How much memory a record holds: what the credit window counts in bytes per edge
// (engine/runtime/credit_window.h, docs/reliability.md "Limits"). An alert counts its decoded
// message (every node, every string and byte value it points at), its cutouts, its history and
// its annotations (or, when more, the buffer its source says it keeps alive: AlertCore::kept_bytes);
// a sky event its notice and sky map; a dead letter its original bytes. An estimate from above:
// what a batch keeps alive, not an exact allocation count.
#pragma once

#include <cstddef>

#include "engine/model/record.h"

namespace ebs {

std::size_t record_bytes(const Record& record);

}  // namespace ebs
