#include "actors/common/kafka/pin_budget.h"

#include <algorithm>

namespace ebs::kafka {

PinBudget::PinBudget(size_t budget_bytes, size_t records_bytes, size_t header_bytes)
    : budget_(budget_bytes),
      header_(header_bytes),
      window_(std::max<size_t>(records_bytes + header_bytes, 4)),
      block_(window_ / 4) {}

std::optional<PinBudget::Pin> PinBudget::try_pin(const void* payload, size_t len) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(payload);
  // A message larger than the records' size comes alone in its response, with its headers.
  const size_t reach = std::max(window_, len + header_);
  const uintptr_t low = at + len >= reach ? at + len - reach : 0;
  const uintptr_t high = at + reach - 1;  // last byte the buffer can reach
  const Pin pin{low / block_, high / block_};
  std::lock_guard lock(mutex_);
  size_t new_blocks = 0;
  for (uintptr_t b = pin.first_block; b <= pin.last_block; ++b) new_blocks += messages_in_block_.count(b) == 0;
  if ((messages_in_block_.size() + new_blocks) * block_ > budget_) {
    ++copied_;
    return std::nullopt;
  }
  uintptr_t b = pin.first_block;
  try {
    for (; b <= pin.last_block; ++b) ++messages_in_block_[b];
  } catch (...) {  // a new block not allocated: the ones counted so far go back
    release_locked(pin.first_block, b);
    throw;
  }
  peak_blocks_ = std::max(peak_blocks_, messages_in_block_.size());
  ++viewed_;
  return pin;
}

void PinBudget::release(const Pin& pin) {
  std::lock_guard lock(mutex_);
  release_locked(pin.first_block, pin.last_block + 1);
}

void PinBudget::release_locked(uintptr_t first, uintptr_t end) {
  for (uintptr_t b = first; b < end; ++b) {
    auto it = messages_in_block_.find(b);
    if (it != messages_in_block_.end() && --it->second == 0) messages_in_block_.erase(it);
  }
}

size_t PinBudget::pinned_bytes() const {
  std::lock_guard lock(mutex_);
  return messages_in_block_.size() * block_;
}

std::map<std::string, uint64_t> PinBudget::counters() const {
  std::lock_guard lock(mutex_);
  return {{"pinned_bytes", messages_in_block_.size() * block_},
          {"peak_pinned_bytes", peak_blocks_ * block_},
          {"view_budget_bytes", budget_},
          {"messages_viewed", viewed_},
          {"messages_copied", copied_}};
}

}  // namespace ebs::kafka
