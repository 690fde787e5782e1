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
#include "engine/runtime/run_watch.h"
#include "engine/runtime/scheduler_config.h"
#include "engine/runtime/stop_signals.h"

namespace ebs {

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
  std::optional<RunCredit> credit = credit_limits(options, workflow, result.errors);
  if (!credit) return result;
  result.credit = credit->window;
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
  // Only a cluster run's links out hold batches back: said, not silently dropped.
  if (options.held_tokens_bytes || workflow.held_tokens_bytes != 0) {
    const std::string warning =
        "held_tokens_bytes = " + std::to_string(options.held_tokens_bytes.value_or(workflow.held_tokens_bytes)) +
        (options.held_tokens_bytes ? " (run --held-tokens-bytes)" : " (the workflow's defaults.held_tokens_bytes)") +
        " applies only to a cluster run (--nodes, --local-cluster): it does nothing in this single-process run";
    spdlog::warn("{}", warning);
    result.warnings.push_back(warning);
  }
  caf::actor_system_config config;
  configure_scheduler(config, result.threads.scheduler);
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
  std::vector<GraphInstance>& instances = graph.instances();
  SpawnOptions spawn;
  spawn.run_dir = run_dir.string();
  spawn.credit = result.credit;
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
  bool stopping = false;
  std::vector<std::string> faults;  // reported by actors that go on: exit 1 once the run drained
  bool aborted = false;             // ... or by one that cannot: the run is torn down
  result.drain_timeout_s = options.drain_timeout_s.value_or(workflow.drain_timeout_s);
  DrainClock drain(result.drain_timeout_s);
  ProgressLine progress(options.progress_lines);
  auto stop_sources = [&] {
    drain.stop_requested();
    if (stopping) return;
    stopping = true;
    for (GraphInstance& inst : instances)
      if (inst.spec->type->is_source() && !inst.done) self->send(inst.handle, msg::stop_atom::value);
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
        if (options.progress) progress.clear();
        spdlog::warn("second {}: stopping now without draining", name);
        std::_Exit(128 + sig);
      }
      spdlog::warn("{} received: finishing in-flight batches (send it again to stop at once)", name);
      result.interrupted = true;
      stop_sources();
    }
    drain.watch(graph, result.interrupted);
    if (remaining > 0 && drain.expired()) {
      // The drain ran out of time (a sink that hangs, a window that drains at 10 records/s):
      // what is still held is abandoned, never acknowledged, so a restart reads it again.
      acks->tear_down();
      record_drain_cut(instances, result);
      for (GraphInstance& inst : instances)
        if (!inst.done) self->send_exit(inst.handle, caf::exit_reason::user_shutdown);
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
    if (options.progress) progress.update(graph, started_at);
  }
  if (options.progress) progress.clear();
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

std::optional<RunCredit> credit_limits(const RunOptions& options, const Workflow& workflow,
                                       std::vector<std::string>& errors) {
  const RunCredit credit{{options.credit_window_batches.value_or(workflow.credit_window_batches),
                          options.credit_window_bytes.value_or(workflow.credit_window_bytes)},
                         options.held_tokens_bytes.value_or(workflow.held_tokens_bytes)};
  std::vector<std::string> problems = credit_problems(credit.window, credit.held_tokens_bytes);
  if (problems.empty()) return credit;
  for (std::string& p : problems) errors.push_back(std::move(p));
  return std::nullopt;
}

std::vector<std::string> credit_problems(const CreditLimits& credit, int64_t held_tokens_bytes) {
  std::vector<std::string> problems;
  auto check = [&](const std::string& key, int64_t value) {
    if (std::string problem = credit_setting_problem(key, value); !problem.empty()) problems.push_back(problem);
  };
  check("credit_window_batches", credit.batches);
  if (credit.bytes != 0) check("credit_window_bytes", credit.bytes);
  if (held_tokens_bytes != 0) check("held_tokens_bytes", held_tokens_bytes);
  return problems;
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
                      {"output_dead_letters", a.output_dead_letters},
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
    if (!a.counters.empty()) actors.back()["counters"] = a.counters;
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
                                {"abandoned_records", result.abandoned_counted ? nlohmann::json(result.abandoned_records)
                                                                               : nlohmann::json()}}},
                     {"credit_window", {{"batches", result.credit.batches}, {"bytes", result.credit.bytes}}},
                     {"accounting_ok", result.accounting_ok},
                     {"dead_letters_path", workflow.dead_letters_path},
                     {"actors", actors},
                     {"errors", result.errors},
                     {"failures", result.failures},
                     {"warnings", result.warnings}};
  if (result.held_tokens_bytes > 0) out["credit_window"]["held_tokens_bytes"] = result.held_tokens_bytes;
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
