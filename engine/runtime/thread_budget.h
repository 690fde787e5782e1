// How a run shares its threads: `run --threads N` (default: CAF's, one per core and at least 4) is
// the whole budget of threads that compute. Actors that compute on threads of their own (ActorType::compute_threads:
// torch-score's inference, say) take theirs out of it, and the CAF scheduler gets the rest, at
// least one; so a run keeps to N cores rather than N plus the actors' own. Threads that wait
// (blocking I/O actors, CAF's timer) are not counted.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph/workflow.h"

namespace ebs {

struct ThreadBudget {
  size_t total = 0;          // --threads, or the default when it is not given
  bool requested = false;    // total is --threads
  size_t dedicated = 0;      // the sum of parallelism x compute_threads
  size_t scheduler = 0;      // total - dedicated, at least 1
  std::vector<std::pair<std::string, size_t>> dedicated_by_actor;  // actor id, its threads
  // Set when the dedicated threads leave the scheduler none: the run then uses more than `total`.
  std::string warning;
  // For the run's log: "threads: 3 (--threads): 1 for the scheduler, 2 computing in score".
  std::string text() const;
};

// `requested`: --threads (0: not given); `default_total`: the scheduler's size without it (CAF's
// scheduler.max-threads default: the cores, at least 4).
ThreadBudget thread_budget(const Workflow& workflow, size_t requested, size_t default_total);

}  // namespace ebs
