#include "engine/runtime/batch_compact.h"

namespace ebs {

BatchView compact_batch(const BatchView& view) {
  const std::shared_ptr<const Batch>& batch = view.batch();
  if (!batch || view.size() == batch->records.size()) return view;
  auto own = std::make_shared<Batch>();
  own->type = batch->type;
  own->records.reserve(view.size());
  for (size_t i = 0; i < view.size(); ++i) own->records.push_back(view.record(i));
  own->acks = batch->acks;
  return BatchView(std::move(own));
}

}  // namespace ebs
