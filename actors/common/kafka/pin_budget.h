// The bytes a Kafka source's records keep alive in librdkafka's fetch buffers when they view their
// messages instead of copying them, bounded by a budget (docs/kafka.md, "Messages viewed, not
// copied").
//
// librdkafka hands out messages that point into the buffer a fetch response was received into
// (or a compressed batch decompressed into), and that whole buffer lives until its last message
// is destroyed: one alert held past a selective filter can keep 2 MiB. Where in its buffer a
// message lies is not known, only that the buffer is contiguous, holds the message and is at most
// `reach` bytes long (the source's fetch window: its fetch size of records plus the response's
// headers; or a message larger than the records' size with those headers): so it lies in
// [payload + len - reach, payload + reach). The budget counts the aligned blocks (a quarter of
// the window each) that those ranges of live messages touch, each block once however many
// messages touch it: a bound on the bytes pinned, ~2.25 windows for an isolated message, up to
// 3.25 for all the messages of one response (it and a window either side), and closer to one
// window per response when many responses lie side by side in memory.
//
// A message that would take the bound past the budget is not pinned: the source copies it (it
// never waits for a pin to go, which would deadlock a sink that acknowledges only when its
// buffer fills). Thread-safe: pins are released wherever their records are destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ebs::kafka {

class PinBudget {
 public:
  // `budget_bytes` 0: nothing is viewed. `records_bytes`: the most record bytes one buffer holds
  // (a fetch response's fetch.max.bytes); `header_bytes`: what the buffer may hold besides them
  // (the response's headers, which also surround a message larger than `records_bytes`). The
  // window, their sum, is at least 4 bytes.
  PinBudget(size_t budget_bytes, size_t records_bytes, size_t header_bytes);

  // The blocks one pinned message counts in (released by release()).
  struct Pin {
    uintptr_t first_block = 0, last_block = 0;
  };
  // Pins the message at `payload` of `len` bytes if the bound stays within the budget; nullopt
  // (counted as copied) otherwise.
  std::optional<Pin> try_pin(const void* payload, size_t len);
  void release(const Pin& pin);

  // Releases a pin unless dismissed: one whose message was not handed to its owner (an
  // allocation failing between try_pin and the owner) goes back to the budget.
  class Guard {
   public:
    Guard(PinBudget& budget, const Pin& pin) : budget_(budget), pin_(pin) {}
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() {
      if (!dismissed_) budget_.release(pin_);
    }
    void dismiss() { dismissed_ = true; }

   private:
    PinBudget& budget_;
    Pin pin_;
    bool dismissed_ = false;
  };

  size_t budget_bytes() const { return budget_; }
  size_t block_bytes() const { return block_; }
  size_t window_bytes() const { return window_; }
  // What an isolated message can count (~2.25 windows): a budget under it may view nothing.
  size_t isolated_pin_bytes() const { return 9 * block_; }
  // The bound on the bytes pinned now.
  size_t pinned_bytes() const;
  // pinned_bytes, peak_pinned_bytes, view_budget_bytes, messages_viewed, messages_copied.
  std::map<std::string, uint64_t> counters() const;

 private:
  // Releases the blocks [first, end) of a pin.
  void release_locked(uintptr_t first, uintptr_t end);

  const size_t budget_;
  const size_t header_;
  const size_t window_;
  const size_t block_;
  mutable std::mutex mutex_;
  std::unordered_map<uintptr_t, uint32_t> messages_in_block_;  // blocks with a pinned message
  size_t peak_blocks_ = 0;
  uint64_t viewed_ = 0, copied_ = 0;
};

}  // namespace ebs::kafka
