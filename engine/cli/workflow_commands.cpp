#include "engine/cli/workflow_commands.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>
#include <nlohmann/json.hpp>

#include "engine/cluster/coordinator.h"
#include "engine/cluster/feed_shipper.h"
#include "engine/cluster/local_cluster.h"
#include "engine/cluster/node.h"
#include "engine/cluster/placement.h"
#include "engine/cluster/shipped_files.h"
#include "engine/graph/field_check.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/closing_block.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/stop_signals.h"
#include "engine/util/byte_size.h"
#include "engine/util/fault.h"

namespace ebs {

namespace {

struct WorkflowOptions {
  std::string path;
  std::vector<std::string> sets;
  std::vector<std::string> plugins;
};

// `node --cache-max-bytes`: any size a disk holds (not given: no cap).
const ByteRange kCacheMaxBytesRange{1, int64_t{1} << 50, "no cap"};

// A cluster process's TLS files (docs/cluster.md "Security"): required off loopback.
void add_tls_options(CLI::App& app, cluster::TlsFiles& tls) {
  app.add_option("--tls-cert", tls.cert, "cluster: this process's certificate (PEM), signed by the --tls-ca");
  app.add_option("--tls-key", tls.key, "cluster: the certificate's private key (PEM)");
  app.add_option("--tls-ca", tls.ca, "cluster: the CA (PEM) every node's and the coordinator's certificate is checked against");
}

void add_workflow_options(CLI::App& app, WorkflowOptions& o) {
  app.add_option("workflow", o.path, "the workflow YAML file")->required();
  app.add_option("--set", o.sets, "override a config value: ACTOR.KEY=VALUE (repeatable)");
  app.add_option("--plugin", o.plugins, "load an actor plugin (.so) (repeatable)");
}

void print_problems(const std::vector<Problem>& problems) {
  for (const Problem& p : problems) std::cerr << format_problem(p) << "\n";
}

// Parse, load plugins, override, check. Prints every problem; nothing when the workflow is valid.
std::optional<Workflow> load_workflow(const WorkflowOptions& o, ActorRegistry& actors, PluginLoader& loader) {
  std::vector<Problem> problems;
  auto document = parse_workflow(o.path, problems);
  if (!document) {
    print_problems(problems);
    return std::nullopt;
  }
  std::vector<std::string> plugin_paths = o.plugins;
  for (const std::string& p : workflow_plugins(*document)) plugin_paths.push_back(p);
  for (const std::string& p : plugin_paths) {
    try {
      loader.load(p, actors);
    } catch (const Fault& f) {
      problems.push_back({f.place(), f.message()});
    }
  }
  apply_overrides(*document, o.sets, problems);
  auto workflow = build_workflow(*document, actors, problems);
  std::vector<Problem> warnings;
  if (workflow && problems.empty()) check_field_names(*workflow, problems, warnings);
  for (const Problem& w : warnings) std::cerr << format_problem({w.place, "warning: " + w.message}) << "\n";
  if (!problems.empty()) {
    print_problems(problems);
    return std::nullopt;
  }
  return workflow;
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

nlohmann::json describe_type(const ActorType& t) {
  nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array(),
                 config = nlohmann::json::array();
  for (const PortSpec& p : t.inputs) {
    inputs.push_back({{"name", p.name}, {"type", to_string(p.type)}, {"description", p.description}});
    if (!p.state_key.empty()) inputs.back()["partition"] = p.state_key;
  }
  for (const PortSpec& p : t.outputs)
    outputs.push_back({{"name", p.name}, {"type", to_string(p.type)}, {"description", p.description}});
  outputs.push_back({{"name", "dead_letters"}, {"type", "DeadLetter"}, {"description", "records it could not handle"}});
  for (const ConfigKey& k : t.config) {
    nlohmann::json key{{"name", k.name}, {"type", to_string(k.kind)}, {"required", k.required},
                       {"description", k.description}};
    if (!k.default_value.empty()) key["default"] = k.default_value;
    config.push_back(key);
  }
  nlohmann::json out{{"type", t.name},       {"version", t.version}, {"description", t.description},
          {"blocking", t.blocking}, {"inputs", inputs},   {"outputs", outputs},
          {"config", config}};
  if (t.compute_threads > 0) out["compute_threads"] = t.compute_threads;
  if (t.is_source()) out["input_time_scale"] = t.input_time_scale;
  return out;
}

// `ebs-flow actors TYPE`: what a user needs to write the actor in a workflow.
std::string describe_type_text(const ActorType& t) {
  std::ostringstream out;
  out << t.name << " (version " << t.version << (t.is_source() ? ", source" : t.outputs.empty() ? ", sink" : "")
      << (t.compute_threads > 0 ? ", computes on its own thread (within --threads)"
          : t.blocking          ? ", own thread"
                                : "")
      << ")\n  " << t.description << "\n";
  if (t.is_source() && !t.input_time_scale.empty()) out << "  input time scale: " << t.input_time_scale << "\n";
  auto ports = [&](const char* title, const std::vector<PortSpec>& list, bool dead_letters) {
    out << "\n" << title << ":\n";
    if (list.empty() && !dead_letters) out << "  (none)\n";
    for (const PortSpec& p : list) {
      out << "  " << p.name << "  " << to_string(p.type) << "  " << p.description << "\n";
      if (!p.state_key.empty()) out << "      partition: " << p.state_key << " (keeps state; docs/workflow-format.md)\n";
    }
    if (dead_letters) out << "  dead_letters  DeadLetter  records it could not handle\n";
  };
  ports("inputs", t.inputs, false);
  ports("outputs", t.outputs, true);
  out << "\nconfig:\n";
  if (t.config.empty()) out << "  (none)\n";
  for (const ConfigKey& k : t.config) {
    out << "  " << k.name << "  " << to_string(k.kind);
    if (k.required) out << ", required";
    else if (!k.default_value.empty()) out << ", default " << k.default_value;
    out << "\n      " << k.description << "\n";
  }
  return out.str();
}

}  // namespace

// `run --http --linger`: the run has ended; its page stays up (showing the final counts) until
// the user stops it.
static void wait_for_stop_signal(const RunResult& result) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::cerr << "run " << (result.interrupted ? "stopped" : "ended")
            << "; the page stays up until SIGINT/SIGTERM (Ctrl-C) (--linger)" << std::endl;
  int signal_number = 0;
  sigwait(&signals, &signal_number);
}

void register_workflow_commands(CommandRegistry& commands, ActorRegistry& actors, PluginLoader& loader,
                                RunHttpServer* http, std::string version, cluster::CoordinatorRequests* requests,
                                cluster::FeedRelay* feed) {
  commands.add("validate", "Check a workflow: every problem at once, as FILE:LINE:COL: message",
               [&actors, &loader](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<WorkflowOptions>();
                 auto connect = std::make_shared<bool>(false);
                 add_workflow_options(app, *o);
                 app.add_flag("--connect", *connect,
                              "also reach every broker, schema registry, database and webhook host the workflow needs");
                 return [o, connect, &actors, &loader] {
                   auto workflow = load_workflow(*o, actors, loader);
                   if (!workflow) return exit_code::failed;
                   // The shape of each `placement:` (its nodes are known only to a cluster run).
                   if (std::vector<Problem> placement = cluster::check_placement(*workflow, {}); !placement.empty()) {
                     print_problems(placement);
                     return exit_code::failed;
                   }
                   if (*connect) {
                     std::vector<Problem> problems;
                     for (const ActorSpec& a : workflow->actors) {
                       if (!a.type->check_connect) continue;
                       try {
                         a.type->check_connect(a.config(), problems);
                       } catch (const std::exception& e) {
                         problems.push_back({a.place, e.what()});
                       }
                     }
                     if (!problems.empty()) {
                       print_problems(problems);
                       return exit_code::failed;
                     }
                   }
                   size_t instances = 0;
                   for (const ActorSpec& a : workflow->actors) instances += a.parallelism;
                   std::cout << nlohmann::json{{"workflow", workflow->name},
                                               {"file", workflow->file},
                                               {"valid", true},
                                               {"actors", workflow->actors.size()},
                                               {"instances", instances},
                                               {"connected", *connect}}
                                    .dump()
                             << "\n";
                   return exit_code::ok;
                 };
               });

  commands.add("node", "Run a cluster worker: a coordinator (`run --nodes`) places instances on it (docs/cluster.md)",
               [&actors, &loader, version, requests, feed](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<cluster::NodeOptions>();
                 o->feed = feed;
                 auto listen = std::make_shared<std::string>();
                 app.add_option("--name", o->name, "the node's name, as placements and --nodes say it")->required();
                 app.add_option("--listen", *listen, "HOST:PORT to listen on for the coordinator and peers (port 0: any)")
                     ->required();
                 app.add_option("--threads", o->threads, "scheduler threads (default: one per core, at least 4)");
                 o->cache_dir = cluster::default_cache_dir();
                 app.add_option("--cache-dir", o->cache_dir,
                                "where the files a coordinator ships (catalogues, rules, models, plugins) are kept, by "
                                "SHA-256")
                     ->capture_default_str();
                 app.add_option("--cache-keep-days", o->cache_limits.keep_days,
                                "days a file in the cache may go unused by any run before it is removed (0: as soon "
                                "as no run uses it)")
                     ->check(CLI::Validator(
                         [](std::string& text) {
                           double days = -1;
                           try {
                             days = std::stod(text);
                           } catch (const std::exception&) {
                           }
                           return days >= 0 && std::isfinite(days) ? std::string()
                                                                     : "'" + text + "' is not a number of days >= 0";
                         },
                         "DAYS"))
                     ->capture_default_str();
                 auto max_bytes = std::make_shared<std::string>();
                 app.add_option("--cache-max-bytes", *max_bytes,
                                "a cap on the cache, a size such as 20 GiB: above it the files used longest ago are "
                                "removed, unless a run uses them (default: no cap)")
                     ->check(CLI::Validator(
                         [](std::string& text) { return byte_setting("cache_max_bytes", text, kCacheMaxBytesRange).problem; },
                         "SIZE"));
                 add_tls_options(app, o->tls);
                 return [o, listen, max_bytes, &actors, &loader, version, requests] {
                   // Checked by the flag's validator: a size is there.
                   if (!max_bytes->empty())
                     o->cache_limits.max_bytes = *byte_setting("cache_max_bytes", *max_bytes, kCacheMaxBytesRange).value;
                   const size_t colon = listen->rfind(':');
                   int port = -1;
                   if (colon != std::string::npos) {
                     try {
                       port = std::stoi(listen->substr(colon + 1));
                     } catch (const std::exception&) {
                       port = -1;
                     }
                   }
                   if (port < 0 || port > 65535 || colon == 0) {
                     std::cerr << "--listen: '" << *listen << "' is not HOST:PORT\n";
                     return exit_code::usage;
                   }
                   o->host = listen->substr(0, colon);
                   o->port = static_cast<uint16_t>(port);
                   if (std::string refusal = cluster::tls_refusal(o->host, o->tls); !refusal.empty()) {
                     std::cerr << "node " << o->name << ": " << refusal << "\n";
                     return exit_code::usage;
                   }
                   o->version = version;
                   return cluster::run_node(*o, actors, loader, requests);
                 };
               });

  commands.add("run", "Run a workflow until its sources end (or SIGINT/SIGTERM)",
               [&actors, &loader, http, version, requests, feed](CLI::App& app) -> CommandRegistry::Runner {
                 struct RunArgs {
                   WorkflowOptions workflow;
                   RunOptions run;
                   bool no_progress = false;
                   bool progress = false;
                   bool quiet = false;
                   std::string log_level;
                   std::string http, token;
                   bool linger = false;
                   double drain_timeout_s = -1;  // not given: the workflow's
                   // Not given (empty): the workflow's `defaults:`; checked as the workflow checks them.
                   std::string credit_window_batches, credit_window_bytes, held_tokens_bytes;
                   std::string dashboard_shipment_bytes, dashboard_final_shipment_bytes;
                   std::string nodes;
                   size_t local_cluster = 0;
                   cluster::TlsFiles tls;
                 };
                 auto o = std::make_shared<RunArgs>();
                 add_workflow_options(app, o->workflow);
                 app.add_option("--threads", o->run.threads,
                                "threads the run computes on: the scheduler's and those of actors computing on "
                                "their own (default: one per core, at least 4)");
                 app.add_option("--run-dir", o->run.run_dir,
                                "directory for outputs and dead letters (default: run/<workflow name>)");
                 app.add_option("--summary-json", o->run.summary_json, "write per-actor counts and rates here");
                 app.add_flag("--no-progress", o->no_progress, "no live records/s line on a terminal");
                 app.add_flag("--progress", o->progress,
                              "a progress line every second even when stderr is not a terminal");
                 app.add_flag("--quiet,-q", o->quiet, "only warnings and errors");
                 app.add_option("--drain-timeout", o->drain_timeout_s,
                                "seconds a stop (Ctrl-C, end of input) may take to drain what is in flight; "
                                "then it is abandoned and the run exits 1 (default: the workflow's "
                                "defaults.drain_timeout_s, 20; 0: no bound)")
                     ->check(CLI::NonNegativeNumber);
                 // The flag names the key it overrides: the refusal reads like the workflow's.
                 auto credit_flag_check = [](const std::string& key) {
                   return CLI::Validator([key](std::string& text) { return credit_setting_problem(key, text); }, "", key);
                 };
                 app.add_option("--credit-window-batches", o->credit_window_batches,
                                "batches in flight per edge, 1 to " + std::to_string(Workflow::kMaxCreditWindowBatches) +
                                    " (default: the workflow's defaults.credit_window_batches, " +
                                    std::to_string(Workflow::kDefaultCreditWindowBatches) + "): smaller bounds memory tighter, larger lets stages "
                                "that take turns overlap more; each batch in flight costs ~350 B the byte window does not count")
                     ->check(credit_flag_check("credit_window_batches"));
                 app.add_option("--credit-window-bytes", o->credit_window_bytes,
                                "bytes of records in flight per edge, a size such as 8388608 or 8 MiB (8MB is 8,000,000 bytes) (default: the "
                                "workflow's defaults.credit_window_bytes, 8 MiB); a run holds at most its edges times this plus a batch each of records, "
                                "plus ~350 B per batch in flight; in a cluster run each link out also keeps up to 8 windows "
                                "of held batches whole plus --held-tokens-bytes (docs/workflow-format.md)")
                     ->check(credit_flag_check("credit_window_bytes"));
                 app.add_option("--held-tokens-bytes", o->held_tokens_bytes,
                                "a cluster run only (a single-process run warns that it does nothing): bytes each link "
                                "out may keep of held batches as their tokens only, a size such as 65536 or 64 KiB "
                                "(default: the workflow's defaults.held_tokens_bytes, one credit byte window; docs/cluster.md)")
                     ->check(credit_flag_check("held_tokens_bytes"));
                 auto budget_flag_check = [](bool final) {
                   const std::string key = final ? "dashboard_final_shipment_bytes" : "dashboard_shipment_bytes";
                   return CLI::Validator(
                       [key, final](std::string& text) { return byte_setting(key, text, dashboard_budget_range(final)).problem; },
                       "", key);
                 };
                 app.add_option("--dashboard-shipment-bytes", o->dashboard_shipment_bytes,
                                "a cluster run with --http only (otherwise it warns that it does nothing): what each "
                                "node ships at most every 0.5 s of its dashboard sinks' records to the page, a size "
                                "such as 2 MiB, 64 KiB to 64 MiB (default: the workflow's "
                                "defaults.dashboard_shipment_bytes, 2 MiB; docs/dashboard.md \"The budgets\")")
                     ->check(budget_flag_check(false));
                 app.add_option("--dashboard-final-shipment-bytes", o->dashboard_final_shipment_bytes,
                                "a cluster run with --http only: what each node ships at most before its books at the "
                                "end, not below the shipment budget, up to 256 MiB (default: the workflow's "
                                "defaults.dashboard_final_shipment_bytes, else four shipments)")
                     ->check(budget_flag_check(true));
                 app.add_flag("--overwrite", o->run.overwrite,
                              "file sinks may truncate output a previous run wrote (refused otherwise)");
                 app.add_option("--log-level", o->log_level,
                                "trace, debug, info, warn, error or off (librdkafka's own lines included)")
                     ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
                 app.add_option("--nodes", o->nodes,
                                "run on a cluster: NAME=HOST:PORT,... of `ebs-flow node` processes (docs/cluster.md); overrides the "
                                "workflow's `cluster: {nodes: [...]}`");
                 app.add_option("--local-cluster", o->local_cluster,
                                "run on N `ebs-flow node` processes started on loopback (and stopped at the end)")
                     ->excludes("--nodes");
                 add_tls_options(app, o->tls);
                 if (http) {
                   app.add_option("--http", o->http,
                                  "serve the live dashboard on HOST:PORT (port 0: any free port; loopback unless --token)");
                   app.add_option("--token", o->token, "the dashboard requires 'Authorization: Bearer TOKEN'");
                   app.add_flag("--linger", o->linger,
                                "with --http: keep serving the final page after the run ends, until SIGINT/SIGTERM");
                 }
                 return [o, &actors, &loader, http, version, requests, feed] {
                   // Before anything can start a thread (loading a model starts XGBoost's OpenMP
                   // pool): every thread inherits the blocked mask, only the run takes signals.
                   StopSignals block_signals;
                   if (o->quiet) spdlog::set_level(spdlog::level::warn);
                   if (!o->log_level.empty()) spdlog::set_level(spdlog::level::from_str(o->log_level));
                   std::optional<http_access::Address> address;
                   if (!o->http.empty()) {
                     address = http_access::parse_address(o->http);
                     if (auto problem = http_access::exposure_problem(*address, o->token)) {
                       std::cerr << *problem << "\n";
                       return exit_code::usage;
                     }
                   }
                   auto workflow = load_workflow(o->workflow, actors, loader);
                   if (!workflow) return exit_code::failed;
                   RunOptions options = o->run;
                   if (o->drain_timeout_s >= 0) options.drain_timeout_s = o->drain_timeout_s;
                   if (!o->credit_window_batches.empty()) options.credit_window_batches = std::stoll(o->credit_window_batches);
                   // Checked by the flags' validators: a value is there.
                   if (!o->credit_window_bytes.empty())
                     options.credit_window_bytes = credit_setting("credit_window_bytes", o->credit_window_bytes).value;
                   if (!o->held_tokens_bytes.empty())
                     options.held_tokens_bytes = credit_setting("held_tokens_bytes", o->held_tokens_bytes).value;
                   std::optional<int64_t> dashboard_shipment, dashboard_final;
                   if (!o->dashboard_shipment_bytes.empty())
                     dashboard_shipment = byte_setting("dashboard_shipment_bytes", o->dashboard_shipment_bytes,
                                                       dashboard_budget_range(false)).value;
                   if (!o->dashboard_final_shipment_bytes.empty())
                     dashboard_final = byte_setting("dashboard_final_shipment_bytes", o->dashboard_final_shipment_bytes,
                                                    dashboard_budget_range(true)).value;
                   // The workflow's `cluster:` names the nodes unless --nodes or --local-cluster does.
                   const bool nodes_from_workflow = o->nodes.empty() && o->local_cluster == 0;
                   const std::string node_list = nodes_from_workflow ? workflow->cluster_nodes : o->nodes;
                   const bool cluster_run = !node_list.empty() || o->local_cluster > 0;
                   // The budgets of a cluster run serving --http, checked before the page listens and any
                   // node is started; without --http the flags do nothing (warned below), nor are refused.
                   if (cluster_run && address) {
                     std::string budget_problem;
                     if (!cluster::feed_budgets(*workflow, dashboard_shipment, dashboard_final, budget_problem)) {
                       std::cerr << budget_problem << "\n";
                       return exit_code::failed;
                     }
                   }
                   if (address) {
                     int port = http->listen(*address, o->token);
                     std::string host = address->host.find(':') != std::string::npos ? "[" + address->host + "]"
                                                                                    : address->host;
                     // The URL on stdout (a JSON line) so that scripts can find a port chosen by the system.
                     std::cout << nlohmann::json{{"dashboard", "http://" + host + ":" + std::to_string(port) + "/"}}.dump()
                               << std::endl;
                     options.observer = http;
                   }
                   if (options.run_dir.empty()) options.run_dir = "run/" + workflow->name;
                   bool terminal = isatty(STDERR_FILENO);
                   options.progress = o->progress || (!o->no_progress && !o->quiet && terminal);
                   options.progress_lines = !terminal;
                   spdlog::info("running {} ({} actors) in {}", workflow->name, workflow->actors.size(),
                                options.run_dir);
                   RunResult result;
                   // Only a cluster run's nodes ship to the page of a run serving --http: said, not silently dropped.
                   for (const auto& [flag, key, value] :
                        {std::tuple{"--dashboard-shipment-bytes", "dashboard_shipment_bytes", dashboard_shipment},
                         std::tuple{"--dashboard-final-shipment-bytes", "dashboard_final_shipment_bytes", dashboard_final}})
                     if (value && (!cluster_run || !address))
                       spdlog::warn("{} = {} (run {}) applies only to a cluster run (--nodes, --local-cluster) serving "
                                    "--http: it does nothing in this {}",
                                    key, describe_bytes(*value), flag, cluster_run ? "run without --http" : "single-process run");
                   if (!address) dashboard_shipment = dashboard_final = std::nullopt;
                   if (cluster_run) {
                     // A cluster run: the placement is checked against the nodes before any is reached.
                     cluster::ClusterRun run;
                     run.requests = requests;
                     run.feed = address ? feed : nullptr;  // the page shows what the nodes' dashboard sinks keep
                     run.dashboard_shipment_bytes = dashboard_shipment;
                     run.dashboard_final_shipment_bytes = dashboard_final;
                     run.version = version;
                     run.tls = o->tls;
                     run.sets = o->workflow.sets;
                     run.plugins = o->workflow.plugins;
                     std::ifstream file(o->workflow.path, std::ios::binary);
                     run.text.assign(std::istreambuf_iterator<char>(file), {});
                     std::vector<std::string> names;
                     if (!node_list.empty()) {
                       std::string problem;
                       run.nodes = cluster::parse_node_list(node_list, problem);
                       if (!problem.empty()) {
                         std::cerr << (nodes_from_workflow ? workflow->cluster_place + ": " : "") << problem << "\n";
                         return exit_code::usage;
                       }
                     } else {
                       for (size_t i = 1; i <= o->local_cluster; ++i) names.push_back("node" + std::to_string(i));
                     }
                     for (const cluster::NodeAddress& n : run.nodes) names.push_back(n.name);
                     std::vector<Problem> problems = cluster::check_placement(*workflow, names);
                     if (!problems.empty()) {
                       print_problems(problems);
                       return exit_code::failed;
                     }
                     std::unique_ptr<cluster::LocalCluster> local;
                     if (o->local_cluster > 0) {
                       try {
                         // The nodes keep the files the run ships them in the run directory.
                         local = std::make_unique<cluster::LocalCluster>(
                             o->local_cluster, options.threads, o->tls,
                             (std::filesystem::absolute(options.run_dir) / "node-cache").string());
                       } catch (const Fault& f) {
                         std::cerr << f.place() << ": " << f.message() << "\n";
                         return exit_code::failed;
                       }
                       run.nodes = local->nodes();
                     }
                     result = cluster::run_on_cluster(*workflow, actors, options, run);
                   } else {
                     result = run_workflow(*workflow, actors, options);
                   }
                   if (address && o->linger) wait_for_stop_signal(result);
                   if (address) http->stop();
                   if (!result.started) {
                     for (const std::string& e : result.errors) std::cerr << e << "\n";
                     return exit_code::failed;
                   }
                   for (const ActorTotals& a : result.actors) {
                     spdlog::info("{:<16} in {:>10}  forwarded {:>10}  filtered {:>10}  failed {:>8}{}", a.id, a.in,
                                  a.forwarded, a.filtered, a.failed, a.balanced() ? "" : "  UNBALANCED");
                   }
                   spdlog::info("{} in {:.2f} s; accounting {}{}", workflow->name, result.elapsed_s,
                                result.accounting_ok ? "balanced for every actor (in = forwarded + filtered + failed)"
                                                     : "FAILED",
                                result.interrupted ? " (stopped by signal)" : "");
                   // The closing block is the run's result: shown unless --quiet, except what
                   // went wrong, which always is.
                   if (!o->quiet || !result.errors.empty() || !result.failures.empty() || !result.warnings.empty())
                     std::cerr << closing_block(*workflow, result) << std::flush;
                   return result.accounting_ok && result.errors.empty() && result.failures.empty() ? exit_code::ok : exit_code::failed;
                 };
               });

  commands.add("graph", "Print a workflow as a Graphviz dot graph",
               [&actors, &loader](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<WorkflowOptions>();
                 add_workflow_options(app, *o);
                 return [o, &actors, &loader] {
                   auto workflow = load_workflow(*o, actors, loader);
                   if (!workflow) return exit_code::failed;
                   std::cout << "digraph \"" << dot_escape(workflow->name) << "\" {\n  rankdir=LR;\n"
                             << "  node [shape=box, style=rounded];\n";
                   for (const ActorSpec& a : workflow->actors) {
                     std::cout << "  \"" << dot_escape(a.id) << "\" [label=\"" << dot_escape(a.id) << "\\n("
                               << dot_escape(a.type_name) << (a.parallelism > 1 ? " x" + std::to_string(a.parallelism) : "")
                               << ")\"];\n";
                   }
                   for (const ActorSpec& a : workflow->actors)
                     for (const auto& [port, wires] : a.inputs)
                       for (const WireRef& w : wires) {
                         const ActorSpec* from = workflow->find(w.actor);
                         std::string type = "DeadLetter";
                         if (const PortSpec* p = from->type->output(w.port)) type = std::string(to_string(p->type));
                         std::cout << "  \"" << dot_escape(w.actor) << "\" -> \"" << dot_escape(a.id)
                                   << "\" [label=\"" << dot_escape(w.port) << " → " << dot_escape(port) << "\\n"
                                   << type << "\"];\n";
                       }
                   std::cout << "}\n";
                   return exit_code::ok;
                 };
               });

  commands.add("actors", "List the actor types, or show one type's ports and config keys (--json: JSON lines)",
               [&actors, &loader](CLI::App& app) -> CommandRegistry::Runner {
                 struct ActorsArgs {
                   std::vector<std::string> plugins;
                   std::string type;
                   bool json = false;
                 };
                 auto o = std::make_shared<ActorsArgs>();
                 app.add_option("type", o->type, "one actor type to describe");
                 app.add_option("--plugin", o->plugins, "load an actor plugin (.so) first (repeatable)");
                 app.add_flag("--json", o->json, "JSON lines (one per type) instead of text");
                 return [o, &actors, &loader] {
                   for (const std::string& p : o->plugins) loader.load(p, actors);
                   if (!o->type.empty()) {
                     const ActorType* type = actors.find(o->type);
                     if (!type) {
                       std::string hint;
                       for (const std::string& n : actors.nearest(o->type)) hint += (hint.empty() ? "" : ", ") + n;
                       std::cerr << "unknown actor type '" << o->type << "'"
                                 << (hint.empty() ? "" : " (did you mean " + hint + "?)")
                                 << "; `ebs-flow actors` lists them\n";
                       return exit_code::failed;
                     }
                     std::cout << (o->json ? describe_type(*type).dump() + "\n" : describe_type_text(*type));
                     return exit_code::ok;
                   }
                   for (const auto& [name, type] : actors.types()) {
                     if (o->json) std::cout << describe_type(type).dump() << "\n";
                     else std::cout << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ')
                                    << type.description << "\n";
                   }
                   return exit_code::ok;
                 };
               });
}

}  // namespace ebs
