#include "engine/runtime/thread_budget.h"

#include <algorithm>

namespace ebs {

namespace {

std::string whose(const ThreadBudget& budget) {
  std::string out;
  for (const auto& [actor, threads] : budget.dedicated_by_actor)
    out += (out.empty() ? "" : ", ") + actor + " (" + std::to_string(threads) + ")";
  return out;
}

std::string total_text(const ThreadBudget& budget) {
  return std::to_string(budget.total) + (budget.requested ? " (--threads)" : " (the default)");
}

}  // namespace

ThreadBudget thread_budget(const Workflow& workflow, size_t requested, size_t default_total) {
  ThreadBudget budget;
  budget.requested = requested > 0;
  budget.total = budget.requested ? requested : std::max<size_t>(1, default_total);
  for (const ActorSpec& actor : workflow.actors) {
    if (!actor.type || actor.type->compute_threads == 0) continue;
    const size_t threads = actor.parallelism * actor.type->compute_threads;
    budget.dedicated += threads;
    budget.dedicated_by_actor.emplace_back(actor.id, threads);
  }
  budget.scheduler = budget.total > budget.dedicated ? budget.total - budget.dedicated : 1;
  if (budget.dedicated >= budget.total)
    budget.warning = "threads: " + std::to_string(budget.dedicated) + " computing on threads of their own (" +
                     whose(budget) + ") leave the scheduler none of " + total_text(budget) +
                     "; it gets 1 anyway, so the run uses " + std::to_string(budget.dedicated + 1) +
                     ": give --threads " + std::to_string(budget.dedicated + 1) + " or more, or lower their parallelism";
  return budget;
}

std::string ThreadBudget::text() const {
  std::string out = "threads: " + total_text(*this) + ": " + std::to_string(scheduler) + " for the scheduler";
  if (dedicated > 0) out += ", " + std::to_string(dedicated) + " computing in " + whose(*this);
  return out;
}

}  // namespace ebs
