#include "engine/runtime/ack.h"

#include <algorithm>
#include <thread>

namespace ebs {

bool AckScope::sleep_unless_torn_down(std::chrono::steady_clock::duration duration) const {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (!torn_down()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(20), until - now));
  }
  return true;
}

uint64_t AckTracker::issue(uint64_t records) {
  if (scope_) scope_->issued_.fetch_add(records, std::memory_order_acq_rel);
  std::lock_guard lock(mutex_);
  records_issued_ += records;
  return next_++;
}

void AckTracker::release(uint64_t sequence, uint64_t records, AckOutcome outcome) {
  if (scope_ && scope_->torn_down()) outcome = AckOutcome::abandoned;
  if (scope_)
    (outcome == AckOutcome::abandoned ? scope_->abandoned_ : scope_->acknowledged_)
        .fetch_add(records, std::memory_order_acq_rel);
  uint64_t through;
  bool advanced = false;
  {
    std::lock_guard lock(mutex_);
    if (outcome == AckOutcome::abandoned) {
      records_abandoned_ += records;
      if (first_abandoned_ == 0 || sequence < first_abandoned_) first_abandoned_ = sequence;
      return;
    }
    records_acknowledged_ += records;
    done_out_of_order_.insert(sequence);
    // Advance over contiguous acknowledgements, never onto an abandoned sequence.
    while (!done_out_of_order_.empty() && *done_out_of_order_.begin() == through_ + 1 &&
           (first_abandoned_ == 0 || through_ + 1 < first_abandoned_)) {
      through_ = *done_out_of_order_.begin();
      done_out_of_order_.erase(done_out_of_order_.begin());
      advanced = true;
    }
    through = through_;
  }
  if (advanced && listener_) listener_(through);
}

uint64_t AckTracker::issued() const {
  std::lock_guard lock(mutex_);
  return next_ - 1;
}
uint64_t AckTracker::acknowledged_through() const {
  std::lock_guard lock(mutex_);
  return through_;
}
uint64_t AckTracker::records_issued() const {
  std::lock_guard lock(mutex_);
  return records_issued_;
}
uint64_t AckTracker::records_acknowledged() const {
  std::lock_guard lock(mutex_);
  return records_acknowledged_;
}
uint64_t AckTracker::records_abandoned() const {
  std::lock_guard lock(mutex_);
  return records_abandoned_;
}
uint64_t AckTracker::first_abandoned() const {
  std::lock_guard lock(mutex_);
  return first_abandoned_;
}

}  // namespace ebs
