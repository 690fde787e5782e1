#include "engine/runtime/engine.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <caf/all.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "engine/runtime/local_graph.h"
#include "engine/runtime/node_actor.h"
#include "engine/runtime/partition.h"
#include "engine/runtime/stop_signals.h"

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

}  // namespace

const ActorTotals* RunResult::find(const std::string& id) const {
  for (const ActorTotals& a : actors)
    if (a.id == id) return &a;
  return nullptr;
}

namespace {

// The run itself, in an actor system of its own that ends (every actor gone, every token released)
// when this returns.
RunResult run_in_actor_system(const Workflow& workflow, const ActorRegistry& registry, const RunOptions& options,
                              const std::shared_ptr<AckScope>& acks) {
  RunResult result;
  std::filesystem::path run_dir = options.run_dir.empty() ? "." : options.run_dir;
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) {
    result.errors.push_back(run_dir.string() + ": cannot create the run directory: " + ec.message());
    return result;
  }

  StopSignals signals(options.handle_signals);
  // Actors computing on threads of their own take theirs out of --threads; the scheduler the rest.
  result.threads = thread_budget(workflow, options.threads, caf::defaults::scheduler::max_threads);
  spdlog::info("{}", result.threads.text());
  if (!result.threads.warning.empty()) {
    spdlog::warn("{}", result.threads.warning);
    result.warnings.push_back(result.threads.warning);
  }
  caf::actor_system_config config;
  config.set("scheduler.max-threads", result.threads.scheduler);
  caf::actor_system system(config);
  caf::scoped_actor self(system);
  // After the actor system: the graph's handles go before the system waits for its actors (on
  // every way out of here, an early one included).
  std::optional<LocalGraph> graph_holder;
  try {
    graph_holder.emplace(workflow, registry, options.overwrite);
  } catch (const Fault& f) {
    result.errors.push_back(f.message());
    return result;
  }
  LocalGraph& graph = *graph_holder;
  const std::vector<const ActorSpec*>& specs = graph.specs();
  std::vector<GraphInstance>& instances = graph.instances();
  SpawnOptions spawn;
  spawn.run_dir = run_dir.string();
  spawn.credit = {options.credit_window, options.credit_window_bytes};
  spawn.overwrite = options.overwrite;
  spawn.acks = acks;
  if (!graph.spawn(system, caf::actor_cast<caf::actor>(self), spawn, result.errors)) {
    acks->tear_down();
    for (GraphInstance& inst : instances)
      if (inst.handle) self->send_exit(inst.handle, caf::exit_reason::user_shutdown);
    return result;
  }
  result.started = true;

  if (options.observer) options.observer->on_start(workflow, graph.live_actors());
  auto started_at = std::chrono::steady_clock::now();
  for (GraphInstance& inst : instances) self->monitor(inst.handle);
  for (GraphInstance& inst : instances) self->send(inst.handle, msg::start_atom::value);

  size_t remaining = instances.size();
  auto last_progress = started_at;
  std::vector<uint64_t> last_in(instances.size(), 0);
  bool stopping = false;
  std::vector<std::string> faults;  // reported by actors that go on: exit 1 once the run drained
  bool aborted = false;             // ... or by one that cannot: the run is torn down
  // The drain's clock starts at a stop signal (SIGINT/SIGTERM): a graceful stop has a bound. A run
  // whose sources ended by themselves is no request to stop: a slow drain may take its time, but
  // one that makes no progress for as long (a hung sink) ends the same way. Its clock restarts
  // whenever any actor's counters move.
  uint64_t drain_activity = 0;
  auto activity = [&] {
    uint64_t sum = 0;
    for (const GraphInstance& inst : instances)
      sum += ActorStats::get(inst.stats->in) + ActorStats::get(inst.stats->forwarded) +
             ActorStats::get(inst.stats->filtered) + ActorStats::get(inst.stats->failed);
    return sum;
  };
  result.drain_timeout_s = options.drain_timeout_s.value_or(workflow.drain_timeout_s);
  std::optional<std::chrono::steady_clock::time_point> drain_started;
  auto stop_sources = [&] {
    if (!drain_started) drain_started = std::chrono::steady_clock::now();
    if (stopping) return;
    stopping = true;
    for (GraphInstance& inst : instances)
      if (inst.spec->type->is_source() && !inst.done) self->send(inst.handle, msg::stop_atom::value);
  };
  auto merged_latency = [&](const std::string& id) {
    LatencyHistogram merged;
    for (size_t idx : graph.instances_of(id))
      if (instances[idx].stats->measures_latency) merged.merge(instances[idx].stats->latency);
    return merged;
  };
  while (remaining > 0) {
    self->receive(
        [&](msg::done_atom, uint64_t index) {
          instances[index].ended = true;
          if (!instances[index].done) {
            instances[index].done = true;
            --remaining;
          }
        },
        [&](msg::fault_atom, uint64_t index, const std::string& what, bool abort) {
          faults.push_back("actor '" + instances[index].spec->id + "' instance " +
                           std::to_string(instances[index].instance) + ": " + what);
          aborted = aborted || abort;
        },
        [&](caf::down_msg& down) {
          for (GraphInstance& inst : instances) {
            if (inst.handle.address() == down.source && !inst.done) {
              result.errors.push_back("actor '" + inst.spec->id + "' instance " +
                                      std::to_string(inst.instance) +
                                      " stopped unexpectedly: " + caf::to_string(down.reason));
              inst.done = true;
              --remaining;
            }
          }
        },
        caf::after(std::chrono::milliseconds(50)) >> [&] {});
    if (int sig = signals.poll()) {
      const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
      if (result.interrupted) {
        // The second signal forces: the user chose to lose what is in flight (offsets stay
        // at the last commit, so nothing unwritten is acknowledged).
        if (options.progress && !options.progress_lines) std::fprintf(stderr, "\r\033[K");
        spdlog::warn("second {}: stopping now without draining", name);
        std::_Exit(128 + sig);
      }
      spdlog::warn("{} received: finishing in-flight batches (send it again to stop at once)", name);
      result.interrupted = true;
      stop_sources();
    }
    if (!result.interrupted && std::all_of(instances.begin(), instances.end(), [](const GraphInstance& inst) {
          return !inst.spec->type->is_source() || inst.done;
        })) {
      const uint64_t now_activity = activity();
      if (!drain_started || now_activity != drain_activity) drain_started = std::chrono::steady_clock::now();
      drain_activity = now_activity;
    }
    if (drain_started && remaining > 0 && result.drain_timeout_s > 0 &&
        std::chrono::steady_clock::now() - *drain_started >
            std::chrono::duration<double>(result.drain_timeout_s)) {
      // The drain ran out of time (a sink that hangs, a window that drains at 10 records/s):
      // what is still held is abandoned, never acknowledged, so a restart reads it again.
      result.drain_timed_out = true;
      acks->tear_down();
      std::vector<std::string>& busy = result.busy_actors;
      std::vector<std::string> waiting;  // not done, but holding nothing: waiting for an upstream
      for (GraphInstance& inst : instances) {
        if (inst.done) continue;
        const ActorStats& st = *inst.stats;
        const bool source = inst.spec->type->is_source();
        const uint64_t handled = ActorStats::get(st.forwarded) + ActorStats::get(st.filtered) + ActorStats::get(st.failed);
        const uint64_t in = ActorStats::get(st.in);
        const uint64_t taken = !source && in > handled ? in - handled : 0;  // taken in, not handled
        result.unhandled_records += taken;
        const bool holds = taken > 0 || ActorStats::get(st.queued_batches) > 0;
        std::vector<std::string>& list = holds || source ? busy : waiting;
        if (std::find(list.begin(), list.end(), inst.spec->id) == list.end()) list.push_back(inst.spec->id);
        self->send_exit(inst.handle, caf::exit_reason::user_shutdown);
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
      break;
    }
    if ((!result.errors.empty() && !stopping) || aborted) {
      // An instance died: its downstream would wait for its end of stream forever. Nothing still
      // in flight will be handled: abandon it before the kill releases it.
      acks->tear_down();
      for (GraphInstance& inst : instances)
        if (!inst.done) self->send_exit(inst.handle, caf::exit_reason::user_shutdown);
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (options.progress && now - last_progress >= std::chrono::seconds(1)) {
      double dt = std::chrono::duration<double>(now - last_progress).count();
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
      std::map<std::string, uint64_t> per_actor_delta;
      for (size_t i = 0; i < instances.size(); ++i) {
        uint64_t in = ActorStats::get(instances[i].stats->in);
        per_actor_delta[instances[i].spec->id] += in - last_in[i];
        last_in[i] = in;
      }
      for (const ActorSpec* s : specs) {
        char part[224];
        int n = std::snprintf(part, sizeof part, "%s %.0f/s  ", s->id.c_str(), per_actor_delta[s->id] / dt);
        // Sinks: the end-to-end latency of what they released so far.
        LatencySummary latency = merged_latency(s->id).summary();
        if (latency.records > 0 && n > 2)
          std::snprintf(part + n - 2, sizeof part - (n - 2), " p50 %s p99 %s max %s  ",
                        latency_text(latency.p50_ms).c_str(), latency_text(latency.p99_ms).c_str(),
                        latency_text(latency.max_ms).c_str());
        line += part;
      }
      if (options.progress_lines)
        std::fprintf(stderr, "progress: %s\n", line.c_str());
      else
        std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
      last_progress = now;
    }
  }
  if (options.progress && !options.progress_lines) std::fprintf(stderr, "\r\033[K");
  result.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();

  result.accounting_ok = result.errors.empty();
  for (std::string& f : faults) result.errors.push_back(std::move(f));
  graph.read_reports();
  graph.collect(result);
  // Strong handles kept past the run would keep detached actors' threads, which the actor system
  // waits for when it ends.
  for (GraphInstance& inst : instances) {
    inst.logic.reset();
    inst.handle = nullptr;
  }
  return result;
}

}  // namespace

RunResult run_workflow(const Workflow& workflow, const ActorRegistry& registry, const RunOptions& options) {
  // Torn down when the run stops after a fault: what is still held then is abandoned.
  auto acks = std::make_shared<AckScope>();
  RunResult result = run_in_actor_system(workflow, registry, options, acks);
  if (!result.started) return result;
  // The actor system has ended, so every holder has let go: the count is whole.
  result.abandoned_records = acks->records_abandoned();
  if (!options.summary_json.empty()) {
    std::ofstream out(options.summary_json);
    out << summary_json(workflow, result) << "\n";
    if (!out) result.errors.push_back(options.summary_json + ": cannot write the summary");
  }
  if (options.observer) options.observer->on_end(result);
  return result;
}

std::string summary_json(const Workflow& workflow, const RunResult& result) {
  nlohmann::json actors = nlohmann::json::array();
  for (const ActorTotals& a : result.actors) {
    double rate = result.elapsed_s > 0 ? a.in / result.elapsed_s : 0;
    actors.push_back({{"id", a.id},
                      {"type", a.type},
                      {"parallelism", a.parallelism},
                      {"in", a.in},
                      {"forwarded", a.forwarded},
                      {"filtered", a.filtered},
                      {"failed", a.failed},
                      {"dead_letters", a.dead_letters},
                      {"emitted", a.emitted},
                      {"records_per_s", rate},
                      {"peak_queued_batches", a.peak_queued_batches},
                      {"balanced", a.balanced()}});
    if (!a.instances.empty() && !a.instances.front().node.empty()) {
      // A cluster run: where each instance ran and its own books.
      nlohmann::json list = nlohmann::json::array();
      for (const InstanceTotals& i : a.instances)
        list.push_back({{"node", i.node}, {"in", i.in}, {"forwarded", i.forwarded}, {"filtered", i.filtered},
                        {"failed", i.failed}, {"balanced", i.in == i.forwarded + i.filtered + i.failed}});
      actors.back()["instances"] = list;
    }
    if (a.measures_latency)
      actors.back()["latency_ms"] = {{"records", a.latency.records}, {"p50", a.latency.p50_ms},
                                     {"p90", a.latency.p90_ms},      {"p99", a.latency.p99_ms},
                                     {"max", a.latency.max_ms},      {"mean", a.latency.mean_ms}};
  }
  nlohmann::json out{{"workflow", workflow.name},
                     {"file", workflow.file},
                     {"elapsed_s", result.elapsed_s},
                     {"interrupted", result.interrupted},
                     {"drain", {{"timeout_s", result.drain_timeout_s},
                                {"timed_out", result.drain_timed_out},
                                {"busy_actors", result.busy_actors},
                                {"unhandled_records", result.unhandled_records},
                                {"abandoned_records", result.abandoned_records}}},
                     {"accounting_ok", result.accounting_ok},
                     {"dead_letters_path", workflow.dead_letters_path},
                     {"actors", actors},
                     {"errors", result.errors},
                     {"failures", result.failures},
                     {"warnings", result.warnings}};
  if (result.threads.total > 0) {  // a single-process run (a cluster's nodes size their own)
    nlohmann::json by_actor = nlohmann::json::object();
    for (const auto& [actor, threads] : result.threads.dedicated_by_actor) by_actor[actor] = threads;
    out["threads"] = {{"total", result.threads.total},
                      {"requested", result.threads.requested},
                      {"scheduler", result.threads.scheduler},
                      {"dedicated", result.threads.dedicated},
                      {"dedicated_by_actor", by_actor}};
  }
  nlohmann::json outputs = nlohmann::json::array();
  for (const RunOutput& o : result.outputs)
    outputs.push_back({{"actor", o.actor}, {"path", o.path}, {"records", o.records}});
  out["outputs"] = outputs;
  nlohmann::json reasons = nlohmann::json::array();
  for (const auto& [reason, n] : result.dead_letter_reasons) reasons.push_back({{"reason", reason}, {"count", n}});
  out["dead_letter_reasons"] = reasons;
  if (!result.dead_letters_path.empty()) out["dead_letters_path"] = result.dead_letters_path;
  return out.dump(2);
}

}  // namespace ebs
