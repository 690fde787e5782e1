// Waiting in a blocking actor without holding up a run that is being torn down (a fault, a drain
// past drain_timeout_s): sinks that throttle or back off sleep through this, in short slices, and
// wake as soon as the run's AckScope is torn down.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/runtime/ack.h"

namespace ebs {

// Sleeps for `duration` unless `scope` is torn down first; true when it was torn down.
inline bool sleep_unless_torn_down(const AckScope& scope, std::chrono::steady_clock::duration duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (!scope.torn_down()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(20), until - now));
  }
  return true;
}

}  // namespace ebs
