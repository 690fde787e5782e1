// Acknowledgements: a source hands every batch an AckToken; the token travels with the batch and
// everything derived from it (narrowed views, annotated copies, dead letters). A holder releases
// it once it is done: a filter when it drops records, a sink once they are durable. When the last
// holder lets go the token's destructor tells the source's AckTracker, which advances the
// highest contiguous acknowledged sequence: the offset a Kafka source may commit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

namespace ebs {

class AckTracker {
 public:
  // Called (on any thread, outside the tracker's lock) with the new contiguous watermark.
  using Listener = std::function<void(uint64_t acknowledged_through)>;

  explicit AckTracker(Listener listener = {}) : listener_(std::move(listener)) {}

  // Sequences are issued 1, 2, 3, ...; `records` is how many records the batch held.
  uint64_t issue(uint64_t records);
  void complete(uint64_t sequence, uint64_t records);

  uint64_t issued() const;
  // Every sequence <= this one has been acknowledged.
  uint64_t acknowledged_through() const;
  uint64_t records_issued() const;
  uint64_t records_acknowledged() const;

 private:
  mutable std::mutex mutex_;
  uint64_t next_ = 1;
  uint64_t through_ = 0;
  uint64_t records_issued_ = 0;
  uint64_t records_acknowledged_ = 0;
  std::set<uint64_t> done_out_of_order_;
  Listener listener_;
};

class AckToken {
 public:
  AckToken(std::shared_ptr<AckTracker> tracker, uint64_t records)
      : tracker_(std::move(tracker)), records_(records), sequence_(tracker_->issue(records)) {}
  ~AckToken() { tracker_->complete(sequence_, records_); }
  AckToken(const AckToken&) = delete;
  AckToken& operator=(const AckToken&) = delete;

  uint64_t sequence() const { return sequence_; }

 private:
  std::shared_ptr<AckTracker> tracker_;
  uint64_t records_;
  uint64_t sequence_;
};

using AckRef = std::shared_ptr<const AckToken>;

}  // namespace ebs
