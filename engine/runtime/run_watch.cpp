#include "engine/runtime/run_watch.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "engine/runtime/engine.h"

namespace ebs {

namespace {

// "1:05:09" / "4:07"
std::string clock_text(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  return text;
}

// "850 µs" / "12.3 ms" / "4.1 s"
std::string latency_text(double ms) {
  char text[32];
  if (ms < 1) std::snprintf(text, sizeof text, "%.0f µs", ms * 1000);
  else if (ms < 1000) std::snprintf(text, sizeof text, "%.3g ms", ms);
  else std::snprintf(text, sizeof text, "%.3g s", ms / 1000);
  return text;
}

uint64_t handled(const ActorStats& st) {
  return ActorStats::get(st.forwarded) + ActorStats::get(st.filtered) + ActorStats::get(st.failed);
}

}  // namespace

ProgressLine::ProgressLine(bool lines) : lines_(lines), last_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(const LocalGraph& graph, std::chrono::steady_clock::time_point started_at) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::seconds(1)) return;
  const double dt = std::chrono::duration<double>(now - last_).count();
  const std::vector<GraphInstance>& instances = graph.instances();
  std::string line;
  // Finite sources (files, stop_at_end, a count) say how far along they are: % and ETA.
  uint64_t done_units = 0, total_units = 0;
  bool all_known = true;
  for (const GraphInstance& inst : instances) {
    if (!inst.spec->type->is_source()) continue;
    uint64_t total = ActorStats::get(inst.stats->progress_total);
    if (total == 0) all_known = false;
    total_units += total;
    done_units += std::min(total, ActorStats::get(inst.stats->progress_done));
  }
  if (all_known && total_units > 0) {
    double fraction = static_cast<double>(done_units) / static_cast<double>(total_units);
    double elapsed = std::chrono::duration<double>(now - started_at).count();
    char part[96];
    std::snprintf(part, sizeof part, "%.1f%% done  ETA %s  ", 100 * fraction,
                  fraction > 0 ? clock_text(elapsed * (1 - fraction) / fraction).c_str() : "?");
    line += part;
  }
  if (last_in_.size() != instances.size()) last_in_.assign(instances.size(), 0);
  std::map<std::string, uint64_t> per_actor_delta;
  for (size_t i = 0; i < instances.size(); ++i) {
    uint64_t in = ActorStats::get(instances[i].stats->in);
    // A counter that went back (a cluster's replaced instance starts again from 0) moved by 0.
    per_actor_delta[instances[i].spec->id] += in >= last_in_[i] ? in - last_in_[i] : 0;
    last_in_[i] = in;
  }
  for (const ActorSpec* s : graph.specs()) {
    char part[224];
    int n = std::snprintf(part, sizeof part, "%s %.0f/s  ", s->id.c_str(), per_actor_delta[s->id] / dt);
    // Sinks: the end-to-end latency of what they released so far.
    LatencyHistogram merged;
    for (size_t idx : graph.instances_of(s->id))
      if (instances[idx].stats->measures_latency) merged.merge(instances[idx].stats->latency);
    LatencySummary latency = merged.summary();
    if (latency.records > 0 && n > 2)
      std::snprintf(part + n - 2, sizeof part - (n - 2), " p50 %s p99 %s max %s  ",
                    latency_text(latency.p50_ms).c_str(), latency_text(latency.p99_ms).c_str(),
                    latency_text(latency.max_ms).c_str());
    line += part;
  }
  if (lines_)
    std::fprintf(stderr, "progress: %s\n", line.c_str());
  else
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  last_ = now;
}

void ProgressLine::clear() const {
  if (!lines_) std::fprintf(stderr, "\r\033[K");
}

void DrainClock::stop_requested() {
  if (!started_) started_ = std::chrono::steady_clock::now();
}

void DrainClock::watch(const LocalGraph& graph, bool interrupted) {
  if (interrupted) return;
  uint64_t activity = 0;
  for (const GraphInstance& inst : graph.instances()) {
    if (inst.spec->type->is_source() && !inst.done) return;
    activity += ActorStats::get(inst.stats->in) + handled(*inst.stats) + ActorStats::get(inst.stats->side_work);
  }
  if (!started_ || activity != activity_) started_ = std::chrono::steady_clock::now();
  activity_ = activity;
}

bool DrainClock::expired() const {
  return started_ && timeout_s_ > 0 &&
         std::chrono::steady_clock::now() - *started_ > std::chrono::duration<double>(timeout_s_);
}

void record_drain_cut(const std::vector<GraphInstance>& instances, RunResult& result) {
  result.drain_timed_out = true;
  std::vector<std::string>& busy = result.busy_actors;
  std::vector<std::string> waiting;  // not done, but holding nothing: waiting for an upstream
  for (const GraphInstance& inst : instances) {
    if (inst.done) continue;
    const ActorStats& st = *inst.stats;
    const bool source = inst.spec->type->is_source();
    const uint64_t in = ActorStats::get(st.in);
    const uint64_t taken = !source && in > handled(st) ? in - handled(st) : 0;  // taken in, not handled
    result.unhandled_records += taken;
    const bool holds = taken > 0 || ActorStats::get(st.queued_batches) > 0;
    std::vector<std::string>& list = holds || source ? busy : waiting;
    if (std::find(list.begin(), list.end(), inst.spec->id) == list.end()) list.push_back(inst.spec->id);
  }
  if (busy.empty()) busy = waiting;
  std::string names;
  for (const std::string& id : busy) names += (names.empty() ? "" : ", ") + id;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", result.drain_timeout_s);
  result.errors.push_back(std::string("the drain did not end within drain_timeout_s = ") + seconds +
                          " s; still busy: " + names + " (" + std::to_string(result.unhandled_records) +
                          " records taken in and not handled); everything not yet acknowledged is abandoned: "
                          "a restart reads it again");
}

}  // namespace ebs
