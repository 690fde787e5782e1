// When a rate-limited source offers its records: `rate` records per second, plus `burst_records`
// at once every `burst_every_s` seconds (a Rubin visit), from the source's start. A record's
// *scheduled* offer time is its ingest time, whether or not the source could offer it then (it
// may wait for credit): back-pressure shows up as latency instead of hiding it (no coordinated
// omission). See docs/performance.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ebs {

struct OfferRate {
  double rate = 0;            // records/s; 0: no steady stream
  double burst_every_s = 0;   // 0: no bursts
  uint64_t burst_records = 0;
  bool limited() const { return rate > 0 || (burst_every_s > 0 && burst_records > 0); }
  // This instance's share of an actor's rate: instance i of n.
  OfferRate share(size_t instance, size_t instances) const;
};

class OfferSchedule {
 public:
  explicit OfferSchedule(OfferRate rate = {}) : rate_(rate) {}
  bool limited() const { return rate_.limited(); }
  // Records due `elapsed_s` seconds after the start: floor(rate·t) + burst_records·floor(t/every).
  uint64_t due(double elapsed_s) const;
  // The scheduled offer time (seconds after the start) of record `n` (0-based): the earliest t
  // with due(t) > n.
  double offer_time(uint64_t n) const;

 private:
  OfferRate rate_;
};

}  // namespace ebs
