// Runs a validated workflow on CAF: spawns one actor per instance, wires them, starts the sources,
// waits for the end of stream to drain the graph (or for SIGINT/SIGTERM, which stops the sources
// and drains), then checks every actor's accounting.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/actor_registry.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/actor_stats.h"
#include "engine/runtime/credit_window.h"
#include "engine/runtime/thread_budget.h"

namespace ebs {

struct RunResult;

// One actor of a running workflow as an observer sees it: its place in the graph and the live
// counters of each instance (shared: they stay readable after the run).
struct LiveActor {
  struct Wire {
    std::string from_actor, from_port, to_port;
  };
  std::string id;
  std::string type;
  bool source = false;
  std::vector<Wire> inputs;  // unwired dead letters go to kDeadLetterActorId's "in"
  std::vector<std::string> output_ports;
  std::vector<std::shared_ptr<const ActorStats>> instances;
  std::vector<std::string> nodes;  // a cluster run: each instance's node (on_start comes again after a failover)
};

// Watches a run from outside (e.g. a dashboard sampling rates). Both calls come from the thread
// that runs the workflow; the observer reads the counters from its own threads in between.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void on_start(const Workflow& workflow, std::vector<LiveActor> actors) = 0;
  virtual void on_end(const RunResult& result) = 0;
};

struct RunOptions {
  size_t threads = 0;            // threads that compute (thread_budget.h); 0 = CAF's default
  std::string run_dir;           // where relative output paths and dead letters go
  std::string summary_json;      // --summary-json PATH
  bool progress = false;         // a live line on stderr: records/s, and % done with an ETA for finite sources
  bool progress_lines = false;   // the progress as one line per second (not redrawn: not a terminal)
  bool handle_signals = true;    // SIGINT/SIGTERM finish in-flight batches and exit cleanly
  bool overwrite = false;        // --overwrite: file sinks may truncate what a previous run wrote
  // Each edge's credit window: batches and bytes in flight (record_bytes;
  // engine/runtime/credit_window.h). Not set: the workflow's `defaults: {credit_window_batches,
  // credit_window_bytes}` (16 batches, 8 MiB); `run --credit-window-batches/-bytes` set them. A bytes
  // value of 0 is unlimited (set only from code: a user's 0 is refused); any other value out of
  // credit_setting_problem's range is refused by the run. A run holds at most its edges times the
  // byte window plus a batch each (records; each batch in flight also costs ~350 B of bookkeeping,
  // and a cluster run's links out keep more: docs/cluster.md "Credits"): 8 MiB keeps the reference
  // workflow's seven alert edges under ~100 MB when its slowest stage holds the whole graph back
  // (docs/performance.md, "Peak RSS").
  std::optional<int64_t> credit_window_batches;
  std::optional<int64_t> credit_window_bytes;
  // A cluster run: what each link out may keep of held batches as their tokens only, past its held
  // cap (engine/cluster/link.h HeldLimits::tokens_bytes); past it a taken batch's credit waits for a
  // release. Not set: the workflow's `defaults: {held_tokens_bytes}` (`run --held-tokens-bytes`);
  // 0 (set only from code): one byte window (credit_window_bytes, 8 MiB when unlimited); any other
  // value out of credit_setting_problem's range is refused. A single-process run has no links: it
  // warns that the setting does nothing there.
  std::optional<int64_t> held_tokens_bytes;
  // `run --drain-timeout SECONDS`: overrides the workflow's `defaults: {drain_timeout_s}`.
  std::optional<double> drain_timeout_s;
  RunObserver* observer = nullptr;  // not owned; told when every instance started and at the end
};

// The credit window of every edge of a run, and the bound on what a cluster run's links out keep
// as tokens only (0: one byte window): its options over its workflow's defaults.
struct RunCredit {
  CreditLimits window;
  int64_t held_tokens_bytes = 0;
};
// The run's credit, checked once (credit_problems): empty, with why in `errors`, when a value set
// from code is out of range (the workflow's keys and the `run` flags are refused before).
std::optional<RunCredit> credit_limits(const RunOptions& options, const Workflow& workflow,
                                       std::vector<std::string>& errors);
// Why a credit window and a cluster run's held-tokens bound cannot be used (credit_setting_problem
// for each; 0 bytes is allowed: unlimited, and 0 held-tokens bytes: one byte window); empty when
// they can. A window of 0 batches never opens: the run would hang.
std::vector<std::string> credit_problems(const CreditLimits& credit, int64_t held_tokens_bytes);

// One instance's books (a cluster's summary shows where each instance ran).
struct InstanceTotals {
  std::string node;  // empty in a single-process run
  uint64_t in = 0, forwarded = 0, filtered = 0, failed = 0;
};

struct ActorTotals {
  std::string id;
  std::string type;
  size_t parallelism = 1;
  uint64_t in = 0, forwarded = 0, filtered = 0, failed = 0, dead_letters = 0;
  // Of dead_letters, those of records the actor made (a filters output's undelivered messages), not
  // of input records: outside the identity (ActorStats::output_dead_letters).
  uint64_t output_dead_letters = 0;
  uint64_t peak_queued_batches = 0;
  std::map<std::string, uint64_t> emitted;
  bool source = false;
  bool measures_latency = false;  // a sink: `latency` is its records' end-to-end latency
  LatencySummary latency;
  std::vector<InstanceTotals> instances;
  // The actor's own counters (engine/runtime/actor_counters.h), summed over its local instances.
  std::map<std::string, uint64_t> counters;
  bool balanced() const { return in == forwarded + filtered + failed; }
};

// A file (or table) a sink wrote during the run.
struct RunOutput {
  std::string actor;
  std::string path;
  uint64_t records = 0;
};

struct RunResult {
  bool started = false;          // every instance opened
  bool interrupted = false;      // stopped by a signal
  // A graceful stop that ran out of time (drain_timeout_s): everything not yet acknowledged is
  // abandoned (a restart reads it again), and the run exits 1.
  double drain_timeout_s = 0;    // the bound that applied (0: none)
  // The credit window that applied to every edge, and in a cluster run the bound on what each link
  // out kept as tokens only (0: not a cluster run); the summary reports both.
  CreditLimits credit;
  int64_t held_tokens_bytes = 0;
  bool drain_timed_out = false;
  std::vector<std::string> busy_actors;  // the actors that had not ended then
  uint64_t unhandled_records = 0;  // records they had taken in and not handled (written, filtered, failed)
  // Records of every source whose acknowledgement was abandoned (a drain cut, a fault's teardown,
  // a holder giving up): what a restart reads again. Counted once the actor system has ended.
  uint64_t abandoned_records = 0;
  // False in a cluster run: what the nodes abandoned is not gathered (the summary says null).
  bool abandoned_counted = true;
  bool accounting_ok = false;
  // How --threads was shared between the scheduler and actors computing on their own threads
  // (a single-process run; total 0 otherwise).
  ThreadBudget threads;
  double elapsed_s = 0;
  std::vector<ActorTotals> actors;
  std::vector<std::string> errors;  // any error ends the run with exit 1
  // Sources that stopped early on a fault (an unreachable broker, ...): the graph still drained
  // and the accounting holds, but the run did not do what was asked (exit code 1).
  std::vector<std::string> failures;
  // For the closing block: what sinks wrote, the dead letters (most frequent reasons first) and
  // what actors want the user to know.
  std::vector<RunOutput> outputs;
  std::string dead_letters_path;
  uint64_t dead_letters = 0;
  std::vector<std::pair<std::string, uint64_t>> dead_letter_reasons;
  std::vector<std::string> warnings;
  const ActorTotals* find(const std::string& id) const;
};

RunResult run_workflow(const Workflow& workflow, const ActorRegistry& registry, const RunOptions& options);

// The run's summary as JSON text (what --summary-json writes).
std::string summary_json(const Workflow& workflow, const RunResult& result);

// The id and type of the dead-letter sink every workflow gets when its dead letters are unwired.
inline constexpr const char* kDeadLetterActorId = "dead_letters";
inline constexpr const char* kDeadLetterSinkType = "jsonl";

}  // namespace ebs
