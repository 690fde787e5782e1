#include "engine/runtime/batch.h"

namespace ebs {

BatchView BatchView::make(PortType type, std::vector<RecordPtr> records, std::vector<AckRef> acks) {
  auto batch = std::make_shared<Batch>();
  batch->type = type;
  batch->records = std::move(records);
  batch->acks = std::move(acks);
  return BatchView(std::move(batch));
}

const std::vector<AckRef>& BatchView::acks() const {
  static const std::vector<AckRef> none;
  return batch_ ? batch_->acks : none;
}

BatchView BatchView::select(const std::vector<uint32_t>& positions) const {
  BatchView narrowed;
  narrowed.batch_ = batch_;
  narrowed.ingest_ = ingest_;
  if (positions.size() == size()) {
    narrowed.selection_ = selection_;
    return narrowed;
  }
  auto indices = std::make_shared<std::vector<uint32_t>>();
  indices->reserve(positions.size());
  for (uint32_t p : positions) indices->push_back(selection_ ? (*selection_)[p] : p);
  narrowed.selection_ = std::move(indices);
  return narrowed;
}

std::optional<std::chrono::steady_clock::time_point> BatchView::ingest() const {
  if (ingest_) return ingest_;
  std::optional<std::chrono::steady_clock::time_point> oldest;
  for (const AckRef& a : acks())
    if (a && (!oldest || a->ingest() < *oldest)) oldest = a->ingest();
  return oldest;
}

BatchView BatchView::on_release(std::function<void(const Batch&)> released) const {
  BatchView copy = *this;
  if (!batch_) return copy;
  // An owner of its own that keeps the real batch alive and reports when it is dropped.
  std::shared_ptr<const Batch> keep = batch_;
  const Batch* raw = keep.get();
  copy.batch_ = std::shared_ptr<const Batch>(raw, [keep = std::move(keep), released = std::move(released)](const Batch* b) {
    released(*b);
  });
  return copy;
}

}  // namespace ebs
