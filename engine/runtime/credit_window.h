// Credit-based flow control on one edge (sender instance -> receiver instance), counted in
// batches and in bytes from the start. The sender holds a CreditWindow: what the receiver may
// still take; it sends only while the window is open and spends one batch and its bytes per
// batch. The receiver holds a CreditGrant per upstream: what it consumed since its last grant,
// given back every half window (per-batch grants halve the rate).
//
// Bytes are unlimited by default (limit 0). With a byte limit the window stays open while any
// byte credit is left, so at most the window plus one batch is in flight, and a batch larger than
// the whole window still goes through once the edge has nothing in flight. Credit may dip below
// zero (a flush sends what it holds); it is granted back all the same.
#pragma once

#include <cstdint>
#include <optional>

namespace ebs {

struct CreditLimits {
  int64_t batches = 16;  // batches in flight per edge
  int64_t bytes = 0;     // bytes in flight per edge; 0: unlimited
};

struct Credit {
  int64_t batches = 0;
  int64_t bytes = 0;
};

class CreditWindow {
 public:
  explicit CreditWindow(CreditLimits limits = {}) : limits_(limits), left_{limits.batches, limits.bytes} {}

  // Whether one more batch may be sent now.
  bool open() const;
  // One batch of `bytes` sent.
  void spend(int64_t bytes);
  // Credit the receiver gave back.
  void grant(const Credit& credit);

  // What is left (may be negative); byte credit is meaningless when bytes are unlimited.
  int64_t batches() const { return left_.batches; }
  int64_t bytes() const { return left_.bytes; }
  // Nothing in flight: every batch sent has been granted back.
  bool empty() const { return left_.batches >= limits_.batches; }
  const CreditLimits& limits() const { return limits_; }

 private:
  CreditLimits limits_;
  Credit left_;
};

class CreditGrant {
 public:
  explicit CreditGrant(CreditLimits limits = {}) : limits_(limits) {}

  // One consumed batch of `bytes`; returns the credit to send back now (every half window of
  // batches, or of bytes when they are limited), or nothing yet.
  std::optional<Credit> consume(int64_t bytes);
  // The upstream has ended: grant nothing more to it.
  void close() { closed_ = true; }
  bool closed() const { return closed_; }

 private:
  CreditLimits limits_;
  Credit consumed_;
  bool closed_ = false;
};

}  // namespace ebs
