#include "engine/runtime/ack.h"

#include <thread>

namespace ebs {

void AckScope::tear_down() {
  // With settle(): either a release sees the flag, or this sees the release in progress and
  // waits until it is counted (both sides sequentially consistent).
  torn_down_.store(true, std::memory_order_seq_cst);
  while (settling_.load(std::memory_order_seq_cst) > 0) std::this_thread::yield();
}

AckOutcome AckScope::settle(uint64_t records, AckOutcome outcome) const {
  // Once torn down a release is abandoned without entering settling_: tear_down waits only for
  // the releases begun before it, and never spins on a stream of later ones.
  if (torn_down_.load(std::memory_order_seq_cst)) {
    records_abandoned_.fetch_add(records, std::memory_order_relaxed);
    return AckOutcome::abandoned;
  }
  settling_.fetch_add(1, std::memory_order_seq_cst);
  if (torn_down_.load(std::memory_order_seq_cst)) outcome = AckOutcome::abandoned;
  if (outcome == AckOutcome::abandoned) records_abandoned_.fetch_add(records, std::memory_order_relaxed);
  else records_acknowledged_.fetch_add(records, std::memory_order_release);
  settling_.fetch_sub(1, std::memory_order_seq_cst);
  return outcome;
}

uint64_t AckScope::records_unacknowledged() const {
  // Acknowledged first: a record counted there was issued before (its token's issue happens
  // before its release), so the issued count read after it includes it.
  const uint64_t acknowledged = records_acknowledged_.load(std::memory_order_acquire);
  const uint64_t issued = records_issued_.load(std::memory_order_relaxed);
  return issued >= acknowledged ? issued - acknowledged : 0;
}

uint64_t AckTracker::issue(uint64_t records) {
  if (scope_) scope_->count_issued(records);
  std::lock_guard lock(mutex_);
  records_issued_ += records;
  return next_++;
}

void AckTracker::release(uint64_t sequence, uint64_t records, AckOutcome outcome) {
  if (scope_) outcome = scope_->settle(records, outcome);
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
