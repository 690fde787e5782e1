// An actor's own counters, beyond the books every actor keeps (ActorStats): a logic that has some
// (the Kafka source's bytes pinned in librdkafka's buffers) implements ActorCounters as well. The
// run reads them once the instance has ended and reports them per actor (ActorTotals::counters,
// `--summary-json`), summed over its instances.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ebs {

class ActorCounters {
 public:
  virtual ~ActorCounters() = default;
  // Name -> value. A peak summed over instances bounds the actor's total at any moment.
  virtual std::map<std::string, uint64_t> counters() const = 0;
};

}  // namespace ebs
