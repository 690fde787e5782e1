// Exponential back-off: the waits of a client retrying a peer that did not answer (webhook posts,
// PostgreSQL reconnects, the schema registry), doubling from `first` up to `max`. One shape for
// every retrying client, so that their documented "doubles each time, capped" means the same.
#pragma once

#include <algorithm>
#include <chrono>

namespace ebs {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
      : first_(first), max_(max), next_(std::min(first, max)) {}

  // The wait before the next retry: first, 2 first, 4 first, ... at most max.
  std::chrono::milliseconds next() {
    std::chrono::milliseconds wait = next_;
    next_ = next_ > max_ / 2 ? max_ : next_ * 2;
    return wait;
  }
  // The peer answered: the next failure waits `first` again.
  void reset() { next_ = std::min(first_, max_); }

 private:
  std::chrono::milliseconds first_, max_, next_;
};

}  // namespace ebs
