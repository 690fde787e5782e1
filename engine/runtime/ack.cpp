#include "engine/runtime/ack.h"

namespace ebs {

uint64_t AckTracker::issue(uint64_t records) {
  std::lock_guard lock(mutex_);
  records_issued_ += records;
  return next_++;
}

void AckTracker::release(uint64_t sequence, uint64_t records, AckOutcome outcome) {
  if (scope_ && scope_->torn_down()) outcome = AckOutcome::abandoned;
  if (scope_ && outcome == AckOutcome::abandoned) scope_->count_abandoned(records);
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
