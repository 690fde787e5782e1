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

}  // namespace ebs
