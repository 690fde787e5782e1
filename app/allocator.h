// The allocator the ebs-flow binary runs on, as `ebs-flow --version` names it.
//
// The product links jemalloc (CMake option EBS_JEMALLOC, on by default; never in the sanitized
// build, whose ASan replaces malloc): records are allocated on a source's thread and freed on a
// sink's, and glibc's per-thread arenas kept ~140 MB of such freed chunks at 1M alerts
// (docs/performance.md, "Memory").
#pragma once

#include <string>

namespace ebs {

// "jemalloc 5.3.0-... (narenas 1, dirty_decay_ms 1000, muzzy_decay_ms 0, background_thread true)"
// read back from the running allocator, or "glibc malloc" in a build without jemalloc.
std::string allocator_description();

}  // namespace ebs
