#include "engine/runtime/ack.h"

namespace ebs {

uint64_t AckTracker::issue(uint64_t records) {
  std::lock_guard lock(mutex_);
  records_issued_ += records;
  return next_++;
}

void AckTracker::complete(uint64_t sequence, uint64_t records) {
  uint64_t through;
  bool advanced = false;
  {
    std::lock_guard lock(mutex_);
    records_acknowledged_ += records;
    if (sequence == through_ + 1) {
      through_ = sequence;
      while (!done_out_of_order_.empty() && *done_out_of_order_.begin() == through_ + 1) {
        through_ = *done_out_of_order_.begin();
        done_out_of_order_.erase(done_out_of_order_.begin());
      }
      advanced = true;
    } else {
      done_out_of_order_.insert(sequence);
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

}  // namespace ebs
