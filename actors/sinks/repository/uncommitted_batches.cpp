#include "actors/sinks/repository/uncommitted_batches.h"

#include <algorithm>
#include <mutex>

namespace ebs::repository {

namespace {

void park_forever(std::vector<BatchView> batches) {
  static std::mutex mutex;
  static auto* parked = new std::vector<BatchView>();  // never freed, on purpose
  std::lock_guard lock(mutex);
  for (BatchView& b : batches) parked->push_back(std::move(b));
}

}  // namespace

UncommittedBatches::~UncommittedBatches() {
  // Pending batches at destruction were never committed either (a sink's end commits first).
  hold_pending();
  if (!held_.empty()) park_forever(std::move(held_));
}

void UncommittedBatches::add(BatchView batch, std::vector<bool> failed) {
  pending_records_ += batch.size();
  pending_.push_back({std::move(batch), std::move(failed)});
}

uint64_t UncommittedBatches::pending_alerts() const {
  uint64_t n = 0;
  for (const Pending& p : pending_)
    for (size_t i = 0; i < p.batch.size(); ++i) n += !p.failed[i] && p.batch[i].type() == PortType::alert;
  return n;
}

uint64_t UncommittedBatches::pending_others() const {
  uint64_t n = 0;
  for (const Pending& p : pending_)
    for (size_t i = 0; i < p.batch.size(); ++i) n += !p.failed[i] && p.batch[i].type() != PortType::alert;
  return n;
}

void UncommittedBatches::settle(const std::function<bool(const BatchView&, size_t)>& skipped) {
  for (Pending& p : pending_)
    for (size_t i = 0; i < p.batch.size(); ++i)
      if (!p.failed[i] && skipped(p.batch, i)) p.failed[i] = true;
}

void UncommittedBatches::release(Emitter& out) {
  std::vector<RecordPtr> committed;
  std::vector<AckRef> acks;
  uint64_t others = 0;
  for (const Pending& p : pending_) {
    for (size_t i = 0; i < p.batch.size(); ++i) {
      if (p.failed[i]) continue;
      if (p.batch[i].type() == PortType::alert) committed.push_back(p.batch.record(i));
      else ++others;
    }
    for (const AckRef& a : p.batch.acks()) acks.push_back(a);
  }
  std::sort(acks.begin(), acks.end());
  acks.erase(std::unique(acks.begin(), acks.end()), acks.end());
  if (!committed.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(committed), std::move(acks)));
  if (others > 0) out.delivered(others);
  pending_.clear();
  pending_records_ = 0;
}

void UncommittedBatches::hold_pending() {
  for (Pending& p : pending_) hold(p.batch);
  pending_.clear();
  pending_records_ = 0;
}

void UncommittedBatches::hold(const BatchView& batch) {
  held_records_ += batch.size();
  held_.push_back(batch);
}

}  // namespace ebs::repository
