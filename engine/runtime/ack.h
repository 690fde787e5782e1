// Acknowledgements: a source hands every batch an AckToken; the token travels with the batch and
// everything derived from it (narrowed views, annotated copies, dead letters). A holder releases
// it once it is done: a filter when it drops records, a sink once they are durable. When the last
// holder lets go the token's destructor tells the source's AckTracker, which advances the
// highest contiguous acknowledged sequence: the offset a Kafka source may commit.
//
// Every release carries an outcome (docs/reliability.md):
//  - acknowledged: the records were handled — written, filtered or dead-lettered;
//  - abandoned: they were not — a holder gave up on them (AckToken::abandon), the run was torn
//    down after a fault (AckScope::tear_down) while they were held, or their batch was lost with
//    a node. An abandoned sequence is never acknowledged: the watermark stops before it for good,
//    so an offset never passes a record that was not handled.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

namespace ebs {

enum class AckOutcome { acknowledged, abandoned };

// The acknowledgements of one run. The engine tears the scope down when it stops a run after a
// fault: from then on every token released (held in an inbox, in a sink's buffer, in the mailbox
// of an actor that is killed) is abandoned.
class AckScope {
 public:
  // From here on every release is abandoned. Returns once the releases decided before are
  // counted, so records_unacknowledged() is exact from then on.
  void tear_down();
  bool torn_down() const { return torn_down_.load(std::memory_order_seq_cst); }
  // Every tracker of the run counts here what it issues, and settles each release here: the
  // outcome (abandoned once torn down) and its records, acknowledged or abandoned.
  void count_issued(uint64_t records) const { records_issued_.fetch_add(records, std::memory_order_relaxed); }
  AckOutcome settle(uint64_t records, AckOutcome outcome) const;
  // What was abandoned so far — whole only once every holder has let go (after the actor system
  // ended): what a restart reads again.
  uint64_t records_abandoned() const { return records_abandoned_.load(std::memory_order_relaxed); }
  // The records issued and not acknowledged. After tear_down() nothing more is acknowledged, so
  // this is what the run abandons in all (once its sources issue no more), known at once: a
  // holder that never lets go (a sink stuck past its time-outs) does not keep it from being
  // counted (a cluster node's drain cut, docs/cluster.md).
  uint64_t records_unacknowledged() const;

 private:
  std::atomic<bool> torn_down_{false};
  mutable std::atomic<uint64_t> settling_{0};  // releases being settled (tear_down waits for them)
  mutable std::atomic<uint64_t> records_issued_{0};
  mutable std::atomic<uint64_t> records_acknowledged_{0};
  mutable std::atomic<uint64_t> records_abandoned_{0};
};

class AckTracker {
 public:
  // Called (on any thread, outside the tracker's lock) with the new contiguous watermark.
  using Listener = std::function<void(uint64_t acknowledged_through)>;

  // `scope`: the run's (ActorContext::acks); a tracker without one is never torn down.
  explicit AckTracker(Listener listener = {}, std::shared_ptr<const AckScope> scope = {})
      : listener_(std::move(listener)), scope_(std::move(scope)) {}

  // Sequences are issued 1, 2, 3, ...; `records` is how many records the batch held.
  uint64_t issue(uint64_t records);
  // The last holder of `sequence` let go. A torn-down scope turns every release into abandoned.
  void release(uint64_t sequence, uint64_t records, AckOutcome outcome);

  uint64_t issued() const;
  // Every sequence <= this one has been acknowledged.
  uint64_t acknowledged_through() const;
  uint64_t records_issued() const;
  uint64_t records_acknowledged() const;
  uint64_t records_abandoned() const;
  // The lowest abandoned sequence, 0 when none: the watermark stays below it.
  uint64_t first_abandoned() const;

 private:
  mutable std::mutex mutex_;
  uint64_t next_ = 1;
  uint64_t through_ = 0;
  uint64_t records_issued_ = 0;
  uint64_t records_acknowledged_ = 0;
  uint64_t records_abandoned_ = 0;
  uint64_t first_abandoned_ = 0;
  std::set<uint64_t> done_out_of_order_;
  Listener listener_;
  std::shared_ptr<const AckScope> scope_;
};

class AckToken {
 public:
  AckToken(std::shared_ptr<AckTracker> tracker, uint64_t records)
      : tracker_(std::move(tracker)), records_(records), sequence_(tracker_->issue(records)) {}
  ~AckToken() {
    tracker_->release(sequence_, records_,
                      abandoned_.load(std::memory_order_acquire) ? AckOutcome::abandoned : AckOutcome::acknowledged);
  }
  AckToken(const AckToken&) = delete;
  AckToken& operator=(const AckToken&) = delete;

  uint64_t sequence() const { return sequence_; }
  // The records of this token were not handled (a sink gave up, a source failed mid-batch):
  // whenever the last holder lets go, the release is abandoned. Holders share the token, so this
  // is allowed through a const reference.
  void abandon() const { abandoned_.store(true, std::memory_order_release); }
  bool abandoned() const { return abandoned_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<AckTracker> tracker_;
  uint64_t records_;
  uint64_t sequence_;
  mutable std::atomic<bool> abandoned_{false};
};

using AckRef = std::shared_ptr<const AckToken>;

// Abandons `tokens` if the scope it guards is left by an exception: a source that made tokens for
// a batch and then failed before handing the batch on must not acknowledge it.
class AbandonOnThrow {
 public:
  explicit AbandonOnThrow(const std::vector<AckRef>& tokens)
      : tokens_(tokens), exceptions_(std::uncaught_exceptions()) {}
  ~AbandonOnThrow() {
    if (std::uncaught_exceptions() > exceptions_)
      for (const AckRef& token : tokens_)
        if (token) token->abandon();
  }
  AbandonOnThrow(const AbandonOnThrow&) = delete;
  AbandonOnThrow& operator=(const AbandonOnThrow&) = delete;

 private:
  const std::vector<AckRef>& tokens_;
  int exceptions_;
};

}  // namespace ebs
