// How a run's CAF scheduler is set up (a local run and a cluster node alike): its threads, and
// how its idle workers wait for work.
//
// CAF's work-stealing workers, when their queue is empty, poll it 100 times, then 500 more times
// 50 µs apart, then wait on a condition variable (woken by work sent to them from outside, and
// every 10 ms to steal). An alert pipeline keeps its workers in the middle stage: work arrives
// every few hundred µs, so each idle worker woke ~20,000 times a second, and on this project's
// machines the wake-ups cost more CPU than the work (reference workflow, 20,000 ZTF alerts from
// files: 7.1 -> 4.4 CPU s; paced at 1,000/s: 5.1 -> 2.9 CPU s, the same latency percentiles;
// docs/performance.md). The middle stage is skipped: a worker that finds nothing after its 100
// quick polls waits to be woken or to steal 10 ms later.
#pragma once

#include <cstddef>

#include <caf/actor_system_config.hpp>

namespace ebs {

// `threads`: scheduler.max-threads (0: CAF's default).
void configure_scheduler(caf::actor_system_config& config, size_t threads);

}  // namespace ebs
