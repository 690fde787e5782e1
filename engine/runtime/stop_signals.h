// SIGINT/SIGTERM as messages, not as a handler: blocked in every thread (threads inherit the mask
// of the thread that creates them, so block before anything starts a thread: CAF's workers,
// librdkafka's, XGBoost's OpenMP pool), then taken by the run with sigtimedwait. A thread that
// leaves them unblocked would take a signal with the default action and kill the process
// without a drain; under a shell that ignores SIGINT (a background job) it would drop it.
#pragma once

#include <signal.h>

namespace ebs {

class StopSignals {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread; the old mask comes back on destruction.
  explicit StopSignals(bool enabled = true) : enabled_(enabled) {
    if (!enabled_) return;
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~StopSignals() {
    if (enabled_) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal taken, or 0; never waits.
  int poll() {
    if (!enabled_) return 0;
    timespec zero{0, 0};
    int sig = sigtimedwait(&set_, nullptr, &zero);
    return sig > 0 ? sig : 0;
  }

 private:
  bool enabled_;
  sigset_t set_{};
  sigset_t old_{};
};

}  // namespace ebs
