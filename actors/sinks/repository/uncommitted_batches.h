// The batches a storage sink (the SQLite `repository`, `postgres-repository`) has written into
// its open transaction and not committed yet, and those it holds after stopping.
//
// After COMMIT, release() sends the committed alerts on port 0 (their acknowledgements ride
// along) and counts the other records as delivered; letting the batches go acknowledges them.
// A sink that cannot store them any more holds them: never acknowledged, nor dead-lettered (the
// records are fine), so that an at-least-once source replays them after a restart. Dropping held
// batches would acknowledge them (an AckToken completes when released) and a Kafka source would
// commit offsets past records never stored; so at destruction they are parked, reachable until
// the process exits, and their tokens never complete. The engine has no negative acknowledgement
// to express this directly.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/runtime/actor_logic.h"

namespace ebs::repository {

class UncommittedBatches {
 public:
  UncommittedBatches() = default;
  ~UncommittedBatches();
  UncommittedBatches(const UncommittedBatches&) = delete;
  UncommittedBatches& operator=(const UncommittedBatches&) = delete;

  // A batch written into the open transaction; `failed` marks the positions not written
  // (dead-lettered, or skipped as repeats and counted as filtered).
  void add(BatchView batch, std::vector<bool> failed);
  bool empty() const { return pending_.empty(); }
  size_t pending_records() const { return pending_records_; }
  // The alerts and the other records (SkyEvents, Coincidences) pending, not counting dead letters.
  uint64_t pending_alerts() const;
  uint64_t pending_others() const;

  // Before release(), for a writer that learns only at COMMIT what became of each record it was
  // given (postgres-repository): `skipped` is called on every written position, in the order
  // they were written, and returns true for a record not stored after all (a repeat counted as
  // filtered, a conflict dead-lettered), which is then marked as not written.
  void settle(const std::function<bool(const BatchView& batch, size_t position)>& skipped);

  // After COMMIT: alerts on to port 0, the rest delivered; the pending batches are let go.
  void release(Emitter& out);

  // The sink has stopped: the pending batches, and `batch` (one that arrives afterwards), are held.
  void hold_pending();
  void hold(const BatchView& batch);
  size_t held_records() const { return held_records_; }

 private:
  struct Pending {
    BatchView batch;
    std::vector<bool> failed;  // dead-lettered positions
  };
  std::vector<Pending> pending_;
  size_t pending_records_ = 0;
  std::vector<BatchView> held_;
  size_t held_records_ = 0;
};

}  // namespace ebs::repository
