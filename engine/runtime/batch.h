// Batches: immutable, shared between the actors of a process. A filter narrows a batch by
// selecting indices (no record is copied); an annotator builds a new batch of new record handles
// that share the old records' cores. Acknowledgement tokens ride along.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/model/record.h"
#include "engine/runtime/ack.h"

namespace ebs {

struct Batch {
  PortType type = PortType::any;
  std::vector<RecordPtr> records;
  std::vector<AckRef> acks;
};

class BatchView {
 public:
  BatchView() = default;
  explicit BatchView(std::shared_ptr<const Batch> batch) : batch_(std::move(batch)) {}
  static BatchView make(PortType type, std::vector<RecordPtr> records, std::vector<AckRef> acks);

  bool empty() const { return size() == 0; }
  size_t size() const {
    if (!batch_) return 0;
    return selection_ ? selection_->size() : batch_->records.size();
  }
  const Record& operator[](size_t i) const { return *record(i); }
  const RecordPtr& record(size_t i) const {
    return batch_->records[selection_ ? (*selection_)[i] : i];
  }
  PortType type() const { return batch_ ? batch_->type : PortType::any; }
  const std::vector<AckRef>& acks() const;
  const std::shared_ptr<const Batch>& batch() const { return batch_; }

  // A view of the records at `positions` (positions within this view, ascending).
  BatchView select(const std::vector<uint32_t>& positions) const;

 private:
  std::shared_ptr<const Batch> batch_;
  std::shared_ptr<const std::vector<uint32_t>> selection_;
};

}  // namespace ebs
