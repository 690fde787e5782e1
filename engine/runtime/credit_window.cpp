#include "engine/runtime/credit_window.h"

#include <algorithm>

namespace ebs {

bool CreditWindow::open() const {
  if (left_.batches <= 0) return false;
  return limits_.bytes <= 0 || left_.bytes > 0 || empty();
}

void CreditWindow::spend(int64_t bytes) {
  --left_.batches;
  left_.bytes -= bytes;
}

void CreditWindow::grant(const Credit& credit) {
  left_.batches += credit.batches;
  left_.bytes += credit.bytes;
}

std::optional<Credit> CreditGrant::consume(int64_t bytes) {
  if (closed_) return std::nullopt;
  ++consumed_.batches;
  consumed_.bytes += bytes;
  const bool half_batches = consumed_.batches >= std::max<int64_t>(1, limits_.batches / 2);
  const bool half_bytes = limits_.bytes > 0 && consumed_.bytes >= limits_.bytes / 2;
  if (!half_batches && !half_bytes) return std::nullopt;
  Credit back = consumed_;
  consumed_ = {};
  return back;
}

}  // namespace ebs
