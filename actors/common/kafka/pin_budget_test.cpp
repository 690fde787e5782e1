#include "actors/common/kafka/pin_budget.h"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

namespace ebs::kafka {

TEST_CASE("a pin budget bounds the bytes of the buffers its messages may lie in") {
  constexpr size_t window = size_t{1} << 20;
  PinBudget budget(8 * window, window);
  // Two "fetch responses", each a buffer of the window's size, holding messages of 64 KiB.
  auto first = std::make_unique<char[]>(window), second = std::make_unique<char[]>(window);
  std::vector<PinBudget::Pin> pins;
  for (size_t at = 0; at + 65536 <= window; at += 65536) {
    auto pin = budget.try_pin(first.get() + at, 65536);
    REQUIRE(pin);
    pins.push_back(*pin);
    // Whatever message of the buffer is pinned, the bound covers the whole buffer.
    CHECK(budget.pinned_bytes() >= window);
  }
  // Sixteen messages of one response count about two windows, not sixteen.
  CHECK(budget.pinned_bytes() <= 3 * window);
  auto other = budget.try_pin(second.get(), 65536);
  REQUIRE(other);
  CHECK(budget.pinned_bytes() <= 6 * window);
  budget.release(*other);
  for (const PinBudget::Pin& pin : pins) budget.release(pin);
  CHECK(budget.pinned_bytes() == 0);
  CHECK(budget.counters().at("messages_viewed") == 17);
  CHECK(budget.counters().at("messages_copied") == 0);
  CHECK(budget.counters().at("peak_pinned_bytes") >= window);
}

TEST_CASE("past its budget a message is not pinned: the source copies it") {
  constexpr size_t window = size_t{1} << 20;
  PinBudget budget(3 * window, window);
  std::vector<std::unique_ptr<char[]>> buffers;
  size_t pinned = 0, refused = 0;
  for (int i = 0; i < 10; ++i) {
    buffers.push_back(std::make_unique<char[]>(window));
    if (budget.try_pin(buffers.back().get(), 1000)) ++pinned;
    else ++refused;
    CHECK(budget.pinned_bytes() <= 3 * window);
  }
  CHECK(pinned >= 1);
  CHECK(refused >= 1);
  CHECK(budget.counters().at("messages_copied") == refused);
  CHECK(budget.counters().at("peak_pinned_bytes") <= 3 * window);

  // A message larger than the window reaches as far as its own size.
  PinBudget large(64 * window, window);
  auto big = std::make_unique<char[]>(10 * window);
  REQUIRE(large.try_pin(big.get(), 10 * window));
  CHECK(large.pinned_bytes() >= 10 * window);

  PinBudget none(0, window);
  CHECK_FALSE(none.try_pin(buffers.front().get(), 1000));
}

}  // namespace ebs::kafka
