#include "engine/cluster/coordinator.h"
#include "engine/cluster/feed_shipper.h"

#include <caf/io/all.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "engine/cluster/coordinator_requests.h"
#include "engine/cluster/instance_books.h"
#include "engine/cluster/link.h"
#include "engine/cluster/messages.h"
#include "engine/cluster/node.h"
#include "engine/cluster/placement.h"
#include "engine/cluster/shipped_files.h"
#include "engine/runtime/local_graph.h"
#include "engine/runtime/messages.h"
#include "engine/runtime/run_watch.h"
#include "engine/runtime/stop_signals.h"

namespace ebs::cluster {

std::vector<NodeAddress> parse_node_list(const std::string& text, std::string& problem) {
  std::vector<NodeAddress> nodes;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('='), colon = item.rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
      problem = "--nodes: '" + item + "' is not NAME=HOST:PORT";
      return {};
    }
    NodeAddress a{item.substr(0, eq), item.substr(eq + 1, colon - eq - 1), 0};
    try {
      const int port = std::stoi(item.substr(colon + 1));
      if (port < 1 || port > 65535) throw std::out_of_range("port");
      a.port = static_cast<uint16_t>(port);
    } catch (const std::exception&) {
      problem = "--nodes: '" + item + "' has no valid port";
      return {};
    }
    for (const NodeAddress& n : nodes)
      if (n.name == a.name) {
        problem = "--nodes: node '" + a.name + "' is named twice";
        return {};
      }
    if (a.name.empty() || a.host.empty()) {
      problem = "--nodes: '" + item + "' is not NAME=HOST:PORT";
      return {};
    }
    nodes.push_back(std::move(a));
  }
  if (nodes.empty()) problem = "--nodes: no node given";
  return nodes;
}

namespace {

// Whether on_node_loss: failover replaces a lost instance of `type` on a survivor: not a source, a
// sink or another I/O actor (their position or their output lives on the lost node).
bool moved_on_failover(const ActorType& type) { return !type.is_source() && !type.blocking && !type.outputs.empty(); }

}  // namespace

RunResult run_on_cluster(const Workflow& workflow, const ActorRegistry& registry, const RunOptions& options,
                         const ClusterRun& cluster) {
  RunResult result;
  // The same window on every edge, local or across nodes, and the held-tokens bound of every link
  // out: the run's options over the workflow's, checked once.
  const std::optional<RunCredit> run_credit = credit_limits(options, workflow, result.errors);
  if (!run_credit) return result;
  const CreditLimits credit = run_credit->window;
  const int64_t held_tokens = run_credit->held_tokens_bytes;
  result.credit = credit;
  result.held_tokens_bytes = held_limits(credit.bytes, held_tokens).tokens_bytes;
  std::string budget_problem;
  const std::optional<FeedBudgets> budgets = feed_budgets(workflow, cluster.dashboard_shipment_bytes,
                                                          cluster.dashboard_final_shipment_bytes, budget_problem);
  if (!budgets) {
    result.errors.push_back(budget_problem);
    return result;
  }
  // Each node's scope counts its own; gathered after a drain cut (the only way a cluster run
  // abandons records without a fault or a lost node).
  result.abandoned_counted = false;
  std::vector<std::string> names;
  for (const NodeAddress& n : cluster.nodes) names.push_back(n.name);
  std::optional<LocalGraph> graph_holder;
  try {
    graph_holder.emplace(workflow, registry, options.overwrite);
  } catch (const Fault& f) {
    result.errors.push_back(f.message());
    return result;
  }
  LocalGraph* graph = &*graph_holder;  // a restart builds the graph's books afresh
  std::vector<std::string> placement = place_instances(*graph, names);
  for (size_t i = 0; i < placement.size(); ++i) graph->instances()[i].node = placement[i];
  std::error_code ec;
  const std::string run_dir =
      std::filesystem::absolute(options.run_dir.empty() ? "." : options.run_dir, ec).lexically_normal().string();
  std::filesystem::create_directories(run_dir, ec);

  StopSignals signals(options.handle_signals);
  caf::actor_system_config config;
  for (const NodeAddress& n : cluster.nodes)
    if (std::string refusal = tls_refusal(n.host, cluster.tls); !refusal.empty()) {
      result.errors.push_back("node '" + n.name + "': " + refusal);
      return result;
    }
  configure_cluster(config, cluster.version, options.threads, cluster.tls);
  caf::actor_system system(config);
  caf::scoped_actor self(system);
  const auto timeout = std::chrono::seconds(30);

  // Every node answers, and is the node it is said to be, before anything is placed.
  std::vector<caf::actor> nodes;
  for (const NodeAddress& n : cluster.nodes) {
    auto handle = reach(system, n.host, n.port, cluster.tls);
    if (!handle) {
      const caf::error& e = handle.error();
      const bool other_version = e.category() == caf::atom("system") &&
                                 e.code() == static_cast<uint8_t>(caf::sec::incompatible_application_ids);
      result.errors.push_back("node '" + n.name + "' at " + n.host + ":" + std::to_string(n.port) +
                              (other_version ? " runs another ebs-flow version (or cluster protocol revision) than " +
                                                   cluster_app_identifier(cluster.version, kClusterProtocolRevision) +
                                                   " (refused at the handshake)"
                                             : " does not answer: " + system.render(e) +
                                                   (cluster.tls.enabled()
                                                        ? " (over TLS: a node without a certificate of this CA, or "
                                                          "without TLS, is refused)"
                                                        : "")));
      return result;
    }
    std::string problem;
    self->request(*handle, timeout, hello_atom::value)
        .receive(
            [&](const std::string& name, const std::string& version) {
              if (name != n.name) problem = "the node at " + n.host + ":" + std::to_string(n.port) + " is '" + name + "', not '" + n.name + "'";
              else if (version != cluster.version) problem = "node '" + n.name + "' runs ebs-flow " + version + ", this is " + cluster.version;
            },
            [&](caf::error& e) { problem = "node '" + n.name + "' does not answer: " + system.render(e); });
    if (!problem.empty()) {
      result.errors.push_back(problem);
      return result;
    }
    self->monitor(*handle);
    nodes.push_back(*handle);
  }
  auto abandon_nodes = [&] {
    for (caf::actor& node : nodes) self->send_exit(node, caf::exit_reason::user_shutdown);
  };
  // What the actors placed on a node read, and the plugins, reach it by hash before anything is
  // built there (engine/cluster/shipped_files.h): a node fetches what its cache lacks, a piece at a
  // time. With on_node_loss: failover, the actors failover can move may be replaced onto any
  // node: every node gets their files too. A restart ships what the new placement needs.
  const std::vector<std::string> plugins = plugin_paths(workflow, cluster.plugins);
  std::vector<NeededFile> needed;
  try {
    needed = list_needed_files(workflow, plugins);
  } catch (const Fault& f) {
    result.errors.push_back(f.place() + ": " + f.message() + " (a file the run ships to its nodes)");
    abandon_nodes();
    return result;
  }
  struct Shipped {
    uint64_t needed = 0, files = 0, bytes = 0;
  };
  std::vector<Shipped> shipped(nodes.size());
  auto ship_to = [&](size_t i) {
    std::set<std::string> here;
    for (size_t k = 0; k < placement.size(); ++k)
      if (placement[k] == names[i]) here.insert(graph->instances()[k].spec->id);
    if (workflow.on_node_loss == "failover")
      for (const ActorSpec& spec : workflow.actors)
        if (spec.type && moved_on_failover(*spec.type)) here.insert(spec.id);
    std::vector<std::string> owners, paths, hashes;
    std::set<std::string> elsewhere;
    for (const NeededFile& f : needed)
      if (f.owner.empty() || here.count(f.owner)) {
        owners.push_back(f.owner);
        paths.push_back(f.path);
        hashes.push_back(f.sha256);
      } else {
        elsewhere.insert(f.owner);
      }
    shipped[i].needed = owners.size();
    std::vector<std::string> lacking;
    self->request(nodes[i], timeout, stage_atom::value, owners, paths, hashes,
                  std::vector<std::string>(elsewhere.begin(), elsewhere.end()))
        .receive(
            [&](bool ok, const std::vector<std::string>& answer) {
              if (ok) lacking = answer;
              else result.errors.insert(result.errors.end(), answer.begin(), answer.end());
            },
            [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not stage the files: " + system.render(e)); });
    for (const std::string& sha256 : lacking) {
      if (!result.errors.empty()) break;
      auto file = std::find_if(needed.begin(), needed.end(), [&](const NeededFile& f) { return f.sha256 == sha256; });
      if (file == needed.end()) {
        result.errors.push_back("node '" + names[i] + "' asked for a file the run does not have (" + sha256 + ")");
        break;
      }
      std::ifstream in(file->path, std::ios::binary);
      std::string piece(kFilePieceBytes, '\0');
      uint64_t offset = 0;
      for (bool last = false; !last && result.errors.empty();) {
        in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
        const auto got = static_cast<size_t>(in.gcount());
        if (in.bad() || (!in && !in.eof())) {
          result.errors.push_back(file->path + ": cannot read it to ship it to node '" + names[i] + "'");
          break;
        }
        last = in.eof() || in.peek() == std::char_traits<char>::eof();
        self->request(nodes[i], timeout, file_piece_atom::value, sha256, offset, piece.substr(0, got), last)
            .receive(
                [&](bool ok, const std::string& problem) {
                  if (!ok) result.errors.push_back("node '" + names[i] + "' refused " + file->path + ": " + problem);
                },
                [&](caf::error& e) {
                  result.errors.push_back("node '" + names[i] + "' did not take " + file->path + ": " + system.render(e));
                });
        offset += got;
      }
      ++shipped[i].files;
      shipped[i].bytes += offset;
    }
    return result.errors.empty();
  };
  for (size_t i = 0; i < nodes.size() && result.errors.empty(); ++i) ship_to(i);
  if (!result.errors.empty()) {
    abandon_nodes();
    return result;
  }
  if (!needed.empty())
    spdlog::info("{} files of the run shipped to the nodes by hash (each node fetched what its cache lacked of "
                 "those its actors read, and the plugins)", needed.size());
  // Paths resolve on a node against the workflow's folder as the coordinator sees it.
  std::error_code absolute_ec;
  const std::string workflow_file = std::filesystem::absolute(workflow.file, absolute_ec).lexically_normal().string();
  std::vector<bool> node_lost(nodes.size(), false);
  std::vector<std::string> link_keys;
  std::vector<caf::actor> link_handles;
  // A node's answer to prepare or replace: its links in (keys and handles), gathered into the given
  // lists, or what went wrong there.
  auto gather_links = [&](size_t node, std::vector<std::string>& keys_out, std::vector<caf::actor>& handles_out) {
    return [&, node](bool ok, const std::vector<std::string>& keys, const std::vector<caf::actor>& handles) {
      if (!ok) {
        for (const std::string& e : keys) result.errors.push_back("node '" + names[node] + "': " + e);
        return;
      }
      keys_out.insert(keys_out.end(), keys.begin(), keys.end());
      handles_out.insert(handles_out.end(), handles.begin(), handles.end());
    };
  };
  uint64_t epoch = kFirstEpoch;
  // What the nodes' instances ask the coordinator (the `filters` actor's switch points on this
  // process's filter registry: engine/cluster/coordinator_requests.h).
  CoordinatorRequests no_requests;
  caf::actor services = (cluster.requests ? *cluster.requests : no_requests).spawn_server(system, workflow);
  // Stopped when the run ends, in every way it ends.
  struct StopOnReturn {
    caf::actor handle;
    ~StopOnReturn() { caf::anon_send_exit(handle, caf::exit_reason::user_shutdown); }
  } stop_services{services};
  // Builds the run on every node not lost: ships the workflow (each node spawns its instances
  // and answers with its links in), has each node connect to the later ones directly (one
  // connection per pair) and wires the links. For a restart, `first` is false: the survivors are
  // connected already, and its sinks append to what the torn-down attempt wrote (that is
  // committed and is not read again): it is built as without --overwrite.
  auto launch = [&](bool first) {
    link_keys.clear();
    link_handles.clear();
    for (size_t i = 0; i < nodes.size() && result.errors.empty(); ++i) {
      if (node_lost[i]) continue;
      self->request(nodes[i], timeout, prepare_atom::value, cluster.text, workflow_file, cluster.sets, plugins,
                    workflow_hash(cluster.text), placement, run_dir, credit.batches,
                    credit.bytes, held_tokens, static_cast<int64_t>(budgets->shipment_bytes),
                    static_cast<int64_t>(budgets->final_bytes), first && options.overwrite, services)
          .receive(gather_links(i, link_keys, link_handles),
              [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not prepare: " + system.render(e)); });
    }
    // A handle of a node learned through the coordinator would otherwise route every batch
    // through the coordinator.
    for (size_t i = 0; i < nodes.size() && result.errors.empty() && first; ++i) {
      if (node_lost[i]) continue;
      std::vector<std::string> peers;
      for (size_t j = i + 1; j < nodes.size(); ++j)
        if (!node_lost[j]) peers.push_back(cluster.nodes[j].host + ":" + std::to_string(cluster.nodes[j].port));
      self->request(nodes[i], timeout, peers_atom::value, peers)
          .receive(
              [&](bool ok, const std::vector<std::string>& errors) {
                if (!ok) result.errors.insert(result.errors.end(), errors.begin(), errors.end());
              },
              [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not connect: " + system.render(e)); });
    }
    for (size_t i = 0; result.errors.empty() && i < nodes.size(); ++i)
      if (!node_lost[i])
        self->request(nodes[i], timeout, wire_atom::value, link_keys, link_handles, epoch)
            .receive(
                [&](bool ok, size_t) {
                  if (!ok) result.errors.push_back("node '" + names[i] + "' could not wire every link to its peers");
                },
                [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not wire: " + system.render(e)); });
    return result.errors.empty();
  };
  if (!launch(true)) {
    abandon_nodes();
    return result;
  }
  result.started = true;
  spdlog::info("cluster of {} nodes ready: {} instances, {} links between nodes", nodes.size(), placement.size(),
               link_keys.size());
  auto started_at = std::chrono::steady_clock::now();
  // The page of `run --http` shows what the nodes' dashboard sinks keep: they ship it here.
  if (cluster.feed)
    for (caf::actor& node : nodes) self->send(node, feed_atom::value);
  for (caf::actor& node : nodes) self->send(node, msg::start_atom::value);
  // The nodes' books arrive every kBooksInterval into this graph's counters, where the progress
  // line, the drain bound and `run --http` read them as they read a single-process run's.
  if (options.observer) options.observer->on_start(workflow, graph->live_actors());
  uint64_t attempt_epoch = kFirstEpoch;  // books of an older attempt (before a restart) are dropped
  result.drain_timeout_s = options.drain_timeout_s.value_or(workflow.drain_timeout_s);
  // The coordinator sees progress only in the books the nodes send every kBooksInterval: a bound
  // shorter than two of them could cut a drain that moves between two reports.
  const double books_s = std::chrono::duration<double>(2 * kBooksInterval).count();
  DrainClock drain(result.drain_timeout_s > 0 ? std::max(result.drain_timeout_s, books_s) : 0.0);
  bool drain_cut = false;
  ProgressLine progress(options.progress_lines);

  auto instances = [&]() -> std::vector<GraphInstance>& { return graph->instances(); };
  size_t remaining = instances().size();
  std::vector<std::string> faults;
  bool aborted = false, stopping = false;
  std::vector<size_t> losses_to_handle;  // nodes declared lost, their instances not yet moved
  nlohmann::json lost_nodes = nlohmann::json::array();
  uint64_t refused_from_lost = 0;
  size_t restarts = 0;
  // Nothing a node declared lost sends is accepted (it is fenced): it may come back (SIGCONT).
  auto from_lost = [&] {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (node_lost[i] && caf::actor_cast<caf::actor_addr>(self->current_sender()) == nodes[i].address()) {
        ++refused_from_lost;
        return true;
      }
    return false;
  };

  // A part of a node's dashboard feed (feed_atom) into this process's feed, which the page reads.
  // The page is a view: a damaged part is dropped (logged once), the run goes on.
  bool feed_damaged = false;
  // Each part is acknowledged (feedack) once added: its node sends the next shipment only then.
  // A lost node's parts are refused unanswered.
  auto add_feed = [&](const std::string& name, const std::string& state, const std::string& types,
                      const std::string& encodings) {
    if (from_lost()) return;
    if (cluster.feed) try {
        cluster.feed->add_part(name, FeedPart{state, types, encodings});
      } catch (const std::exception& e) {
        if (!feed_damaged) spdlog::error("{} (the dashboard part from node '{}' is dropped)", e.what(), name);
        feed_damaged = true;
      }
    self->send(caf::actor_cast<caf::actor>(self->current_sender()), feed_ack_atom::value);
  };
  auto survivors = [&] {
    std::vector<size_t> alive;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!node_lost[i]) alive.push_back(i);
    return alive;
  };
  auto record_loss = [&](size_t lost, double at_s, const std::map<uint64_t, size_t>& target, bool restarted) {
    nlohmann::json replaced = nlohmann::json::array(), placed = nlohmann::json::object();
    std::set<std::string> on;
    for (const auto& [k, node] : target) {
      const std::string name = instances()[k].spec->id + "/" + std::to_string(instances()[k].instance);
      replaced.push_back(name);
      placed[name] = names[node];
      on.insert(names[node]);
    }
    const double unix_s =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    lost_nodes.push_back({{"name", names[lost]}, {"at_s", at_s}, {"at_unix_s", unix_s}, {"epoch", epoch},
                          {"replaced_on", on.empty() ? "" : *on.begin()}, {"placed_on", placed},
                          {"instances_replaced", replaced}, {"restarted", restarted}});
  };
  // on_node_loss: restart (docs/cluster.md "Failures"): every survivor tears its attempt down —
  // every token still held is abandoned, so a Kafka source has committed only what every sink
  // wrote — and the whole run starts again on the survivors, the lost node's instances spread
  // over them; the Kafka sources resume from their group's committed offsets.
  auto restart = [&](size_t lost, double at_s) {
    ++epoch;
    ++restarts;
    // The torn-down attempt's instances are refused what they still ask; the next one's ask with this epoch.
    CoordinatorRequests::begin_attempt(*self, services, epoch);
    // The page follows the new attempt: what the torn-down one's sinks shipped is dropped, and so
    // are its parts still on their way (each carries its attempt's epoch).
    if (cluster.feed) cluster.feed->begin_attempt(epoch);
    std::vector<size_t> alive = survivors();
    for (size_t i : alive) self->send(nodes[i], restart_atom::value, epoch);
    size_t waiting = alive.size();
    std::vector<bool> ready(nodes.size(), false);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (waiting > 0 && result.errors.empty()) {
      self->receive(
          [&](restart_atom, const std::string& name) {
            for (size_t i = 0; i < nodes.size(); ++i)
              if (names[i] == name && !node_lost[i] && !ready[i]) {
                ready[i] = true;
                --waiting;
              }
          },
          // What the torn-down attempt still reports (sent before the node's answer) is dropped.
          [&](msg::done_atom, uint64_t) {}, [&](msg::fault_atom, uint64_t, const std::string&, bool) {},
          [&](caf::down_msg& down) {
            for (size_t i = 0; i < nodes.size(); ++i)
              if (nodes[i].address() == down.source && !node_lost[i]) {
                node_lost[i] = true;
                CoordinatorRequests::fence_node(*self, services, nodes[i].node());
                spdlog::warn("node '{}' was lost while the run restarted ({})", names[i], caf::to_string(down.reason));
                losses_to_handle.push_back(i);
                if (!ready[i]) --waiting;
              }
          },
          caf::after(std::chrono::milliseconds(200)) >> [&] {
            if (std::chrono::steady_clock::now() > deadline)
              result.errors.push_back("the run restarted after node '" + names[lost] +
                                      "' was lost, but a node did not tear its attempt down within 60 s");
          });
    }
    alive = survivors();
    if (alive.empty()) result.errors.push_back("node '" + names[lost] + "' was lost during the run; no node survives");
    if (!result.errors.empty()) return;
    std::set<std::string> alive_names;
    for (size_t i : alive) alive_names.insert(names[i]);
    std::vector<uint64_t> moved;
    for (size_t k = 0; k < placement.size(); ++k)
      if (!alive_names.count(placement[k])) moved.push_back(k);
    // The instances of lost nodes are spread over the survivors in turn (in --nodes order).
    std::map<uint64_t, size_t> target;
    for (size_t k = 0; k < moved.size(); ++k) target[moved[k]] = alive[k % alive.size()];
    for (const auto& [k, node] : target) placement[k] = names[node];
    record_loss(lost, at_s, target, true);
    graph_holder.emplace(workflow, registry, options.overwrite);
    graph = &*graph_holder;
    for (size_t k = 0; k < placement.size(); ++k) instances()[k].node = placement[k];
    remaining = instances().size();
    // A survivor that takes an instance of the lost node gets its files first.
    for (size_t i : alive)
      if (!ship_to(i)) return;
    if (!launch(false)) return;
    spdlog::warn("node '{}' lost after {:.1f} s: the run restarts on {} nodes (epoch {}), its {} instances spread "
                 "over them; Kafka sources resume from their committed offsets",
                 names[lost], at_s, alive.size(), epoch, moved.size());
    attempt_epoch = epoch;
    for (size_t i : alive) self->send(nodes[i], msg::start_atom::value);
    if (options.observer) options.observer->on_start(workflow, graph->live_actors());  // the new attempt's books
    if (stopping)  // a SIGINT/SIGTERM came before: the new attempt's sources stop at once
      for (size_t i : alive) self->send(nodes[i], msg::stop_atom::value);
  };
  // A lost node's instances that are not done go to the survivors (workflow on_node_loss:
  // failover), or the run restarts (restart), or ends (stop; or a source or I/O instance, which
  // cannot be moved on failover).
  auto fail_over = [&](size_t lost) {
    const double at_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
    // (An instance that finished on the lost node before the loss needs no restart: as on failover,
    // the batches its node had not released are abandoned.)
    const bool unfinished = std::any_of(instances().begin(), instances().end(), [&](const GraphInstance& inst) {
      return inst.node == names[lost] && !inst.done;
    });
    if (workflow.on_node_loss == "restart" && unfinished && !survivors().empty()) {
      restart(lost, at_s);
      return;
    }
    std::vector<uint64_t> moved;
    std::vector<std::string> unmovable;
    for (size_t k = 0; k < instances().size(); ++k) {
      const GraphInstance& inst = instances()[k];
      if (inst.node != names[lost] || inst.done) continue;
      const ActorType& type = *inst.spec->type;
      if (!moved_on_failover(type))
        unmovable.push_back("'" + inst.spec->id + "' instance " + std::to_string(inst.instance));
      else
        moved.push_back(k);
    }
    std::string why;
    if (workflow.on_node_loss == "stop") why = "the workflow says on_node_loss: stop";
    else if (survivors().empty()) why = "no node survives";
    else if (!unmovable.empty()) {
      why = "it ran instances that are not moved to another node (sources, sinks and I/O actors):";
      for (const std::string& u : unmovable) why += " " + u;
    }
    if (!why.empty()) {
      result.errors.push_back("node '" + names[lost] + "' was lost during the run; " + why +
                              "; what it had not handled is not acknowledged" +
                              (unmovable.empty() ? "" : " (on_node_loss: restart restarts the run instead)"));
      // The survivors' links to it give up what they keep (abandoned) and refuse what it sends,
      // so that they drain and report at once.
      ++epoch;
      for (size_t i = 0; i < nodes.size(); ++i)
        if (!node_lost[i])
          self->send(nodes[i], failover_atom::value, epoch, names[lost], std::vector<uint64_t>{}, std::vector<std::string>{},
                     std::vector<std::string>{}, std::vector<caf::actor>{});
      return;
    }
    // The replacements spread over the survivors in turn (in --nodes order). A node that takes
    // instances spawns them and wires them to the running instances in one step (replace), which
    // needs the place of every instance they send to known already: the moved instances of actors
    // wired to each other (directly, both moved) go to the same node, as one group; each other
    // moved instance is a group of its own; the groups go to the survivors in turn.
    const std::vector<size_t> alive = survivors();
    std::map<std::string, std::string> group_of;  // moved actor id -> an actor of its group (union-find)
    std::function<std::string(const std::string&)> group = [&](const std::string& id) {
      auto it = group_of.find(id);
      return it == group_of.end() || it->second == id ? id : group(it->second);
    };
    for (uint64_t k : moved) group_of.emplace(instances()[k].spec->id, instances()[k].spec->id);
    std::set<std::string> wired;  // moved actors wired to another moved actor
    for (uint64_t k : moved)
      for (const auto& port_wires : instances()[k].spec->inputs)
        for (const WireRef& wire : port_wires.second)
          if (group_of.count(wire.actor)) {
            group_of[group(wire.actor)] = group(instances()[k].spec->id);
            wired.insert(wire.actor);
            wired.insert(instances()[k].spec->id);
          }
    std::map<uint64_t, size_t> target;
    std::map<std::string, size_t> node_of_group;
    for (uint64_t k : moved) {
      const std::string& id = instances()[k].spec->id;
      auto [it, fresh] = node_of_group.try_emplace(wired.count(id) ? group(id) : "/" + std::to_string(k), 0);
      if (fresh) it->second = alive[(node_of_group.size() - 1) % alive.size()];
      target[k] = it->second;
    }
    ++epoch;
    std::vector<std::string> new_keys;
    std::vector<caf::actor> new_handles;
    std::set<std::string> taken_on;
    for (size_t survivor : alive) {
      std::vector<uint64_t> taken;
      for (const auto& [k, node] : target)
        if (node == survivor) taken.push_back(k);
      if (taken.empty() || !result.errors.empty()) continue;
      taken_on.insert(names[survivor]);
      self->request(nodes[survivor], timeout, replace_atom::value, epoch, names[lost], taken, link_keys, link_handles)
          .receive(gather_links(survivor, new_keys, new_handles),
              [&](caf::error& e) {
                result.errors.push_back("node '" + names[survivor] + "' did not take the instances of lost node '" +
                                        names[lost] + "': " + system.render(e));
              });
    }
    if (!result.errors.empty()) return;
    std::vector<std::string> moved_to;
    for (uint64_t k : moved) moved_to.push_back(names[target[k]]);
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!node_lost[i])
        self->send(nodes[i], failover_atom::value, epoch, names[lost], moved, moved_to, new_keys, new_handles);
    link_keys.insert(link_keys.end(), new_keys.begin(), new_keys.end());
    link_handles.insert(link_handles.end(), new_handles.begin(), new_handles.end());
    for (const auto& [k, node] : target) {
      instances()[k].node = names[node];
      placement[k] = names[node];
    }
    record_loss(lost, at_s, target, false);
    // The dashboard shows where the instances run now (the replacements' books come from their nodes).
    if (options.observer) options.observer->on_start(workflow, graph->live_actors());
    std::string on;
    for (const std::string& n : taken_on) on += (on.empty() ? "'" : ", '") + n + "'";
    spdlog::warn("node '{}' lost after {:.1f} s: {} instances replaced on node {} (epoch {})", names[lost], at_s,
                 moved.size(), on, epoch);
  };
  while (remaining > 0 && !aborted && !drain_cut && result.errors.empty()) {
    self->receive(
        [&](books_atom, uint64_t books_epoch, const std::string&, const std::string& text) {
          if (from_lost() || books_epoch < attempt_epoch) return;
          fill_books(*graph, nlohmann::json::parse(text));
        },
        // A part of an earlier attempt (before a restart) is acknowledged and dropped (add_part).
        [&](feed_atom, const std::string& name, const std::string& state, const std::string& types,
            const std::string& encodings) {
          add_feed(name, state, types, encodings);
        },
        [&](msg::done_atom, uint64_t index) {
          if (from_lost()) return;
          if (index < instances().size() && !instances()[index].done) {
            instances()[index].done = true;
            --remaining;
          }
        },
        [&](msg::fault_atom, uint64_t index, const std::string& what, bool abort) {
          if (from_lost()) return;
          faults.push_back("actor '" + instances()[index].spec->id + "' instance " +
                           std::to_string(instances()[index].instance) + " " + what);
          aborted = aborted || abort;
        },
        [&](caf::down_msg& down) {
          for (size_t i = 0; i < nodes.size(); ++i)
            if (nodes[i].address() == down.source && !node_lost[i]) {
              node_lost[i] = true;
              CoordinatorRequests::fence_node(*self, services, nodes[i].node());
              spdlog::warn("node '{}' was lost during the run ({})", names[i], caf::to_string(down.reason));
              losses_to_handle.push_back(i);
            }
        },
        caf::after(std::chrono::milliseconds(50)) >> [&] {});
    while (!losses_to_handle.empty() && result.errors.empty()) {
      const size_t lost = losses_to_handle.front();
      losses_to_handle.erase(losses_to_handle.begin());
      fail_over(lost);
    }
    if (int sig = signals.poll()) {
      if (result.interrupted) std::_Exit(128 + sig);
      if (options.progress) progress.clear();
      spdlog::warn("{} received: the nodes finish in-flight batches", sig == SIGINT ? "SIGINT" : "SIGTERM");
      result.interrupted = true;
      drain.stop_requested();
      if (!stopping)
        for (size_t i = 0; i < nodes.size(); ++i)
          if (!node_lost[i]) self->send(nodes[i], msg::stop_atom::value);
      stopping = true;
    }
    // The drain bound, on the books the nodes report: as in one process (engine/runtime/run_watch.h).
    drain.watch(*graph, result.interrupted);
    drain_cut = remaining > 0 && result.errors.empty() && drain.expired();
    if (options.progress) progress.update(*graph, started_at);
  }
  if (options.progress) progress.clear();
  result.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
  // Every node reports its books once its links out hold nothing; after a drain cut, at once,
  // having abandoned everything it still held.
  size_t expected_reports = 0;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!node_lost[i]) {
      if (drain_cut) self->send(nodes[i], drain_cut_atom::value);
      else self->send(nodes[i], collect_atom::value);
      ++expected_reports;
    }
  nlohmann::json links = nlohmann::json::object();
  nlohmann::json dashboards = nlohmann::json::object();  // per node: what its dashboard feed shipped
  std::vector<bool> reported(nodes.size(), false);  // a node exits once it reported: not a loss
  bool collecting = true;
  while (expected_reports > 0 && collecting) {
    self->receive(
        [&](collect_atom, const std::string& name, const std::string& text) {
          if (from_lost()) return;
          for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) {
              reported[i] = true;
              self->send(nodes[i], report_ack_atom::value, collect_atom::value);  // it may exit now
            }
          nlohmann::json report = nlohmann::json::parse(text);
          fill_books(*graph, report);
          links[name] = report["links"];
          dashboards[name] = report["dashboard"];
          if (report["links"]["still_held"].get<size_t>() > 0 && !drain_cut)
            result.errors.push_back("node '" + name + "': batches sent to another node were never released; they are abandoned");
          --expected_reports;
        },
        [&](caf::down_msg& down) {
          for (size_t i = 0; i < nodes.size(); ++i)
            if (nodes[i].address() == down.source && !node_lost[i] && !reported[i]) {
              node_lost[i] = true;
              CoordinatorRequests::fence_node(*self, services, nodes[i].node());
              result.errors.push_back("node '" + names[i] + "' was lost before it reported");
              --expected_reports;
            }
        },
        [&](books_atom, uint64_t, const std::string&, const std::string&) {},  // the report supersedes them
        // A node ships its feed's last part before its report (one sender's messages keep their order).
        [&](feed_atom, const std::string& name, const std::string& state, const std::string& types,
            const std::string& encodings) {
          add_feed(name, state, types, encodings);
        },
        caf::after(std::chrono::seconds(60)) >> [&] {
          result.errors.push_back("a node did not report its books within 60 s");
          collecting = false;
        });
  }
  if (drain_cut) {
    // What the nodes abandoned, each counted once every holder there let go (as one process
    // counts once its actor system ended): whole only if every node reported and counted all, by
    // one deadline (a node that missed it or was lost leaves the count incomplete, not smaller).
    std::set<std::string> counting;
    bool whole = true;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (reported[i] && !node_lost[i]) counting.insert(names[i]);
      else whole = false;
    }
    uint64_t abandoned_records = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    // Every counting node is waited for even once the count cannot be whole: its feed's last
    // shipment comes before its count.
    while (!counting.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        whole = false;
        break;
      }
      self->receive(
          [&](abandoned_atom, const std::string& name, uint64_t records, bool node_whole) {
            if (!counting.erase(name)) return;
            for (size_t i = 0; i < names.size(); ++i)
              if (names[i] == name) self->send(nodes[i], report_ack_atom::value, abandoned_atom::value);
            abandoned_records += records;
            whole = whole && node_whole;
          },
          [&](caf::down_msg& down) {
            for (size_t i = 0; i < nodes.size(); ++i)
              if (nodes[i].address() == down.source && counting.erase(names[i])) whole = false;
          },
          [&](books_atom, uint64_t, const std::string&, const std::string&) {},
          // What a node's sinks kept after its report, shipped once they ended, before its count.
          [&](feed_atom, const std::string& name, const std::string& state, const std::string& types,
              const std::string& encodings) { add_feed(name, state, types, encodings); },
          caf::after(left) >> [&] { whole = false; });
    }
    result.abandoned_counted = whole;
    if (whole) result.abandoned_records = abandoned_records;
    // An instance that ended after the cut (its done message came after) is not busy.
    for (GraphInstance& inst : instances()) inst.done = inst.done || inst.ended;
    record_drain_cut(instances(), result);
    spdlog::error("{}", result.errors.back());
  }
  result.accounting_ok = result.errors.empty();
  uint64_t replayed_batches = 0, duplicates_sent = 0, refused = refused_from_lost;
  uint64_t not_replayed_batches = 0, not_replayed_records = 0;
  for (const auto& [name, l] : links.items()) {
    replayed_batches += l.value("batches_replayed", uint64_t{0});
    duplicates_sent += l.value("records_replayed", uint64_t{0});
    refused += l.value("messages_refused", uint64_t{0});
    not_replayed_batches += l.value("batches_not_replayed", uint64_t{0});
    not_replayed_records += l.value("records_not_replayed", uint64_t{0});
  }
  uint64_t abandoned = 0;
  for (const auto& [name, l] : links.items()) abandoned += l.value("batches_abandoned", uint64_t{0});
  if (!lost_nodes.empty() && abandoned > 0)
    result.errors.push_back(
        std::to_string(abandoned) + " batches sent to other nodes were abandoned (" +
        (not_replayed_batches > 0
             ? std::to_string(not_replayed_batches) + " of them, " + std::to_string(not_replayed_records) +
                   " records, because their link kept only their tokens past its held cap and could not replay "
                   "them; an instance that had finished on a lost node is not replaced either)"
             : std::string("an instance that had finished on a lost node is not replaced)")) +
        ": their records possibly missing from the sinks (a conservative count: the lost node may have "
        "written or released some of them just before it died)");
  for (const nlohmann::json& lost : lost_nodes)
    result.warnings.push_back(
        "node '" + lost["name"].get<std::string>() + "' was lost after " +
        std::to_string(static_cast<int>(lost["at_s"].get<double>())) + " s; " +
        (lost["restarted"].get<bool>()
             ? "the run restarted on the survivors (its " + std::to_string(lost["instances_replaced"].size()) +
                   " instances spread over them), Kafka sources from their committed offsets"
             : "its " + std::to_string(lost["instances_replaced"].size()) + " instances were replaced on node '" +
                   lost["replaced_on"].get<std::string>() + "'"));
  if (!lost_nodes.empty())
    result.warnings.push_back(std::to_string(replayed_batches) + " batches sent again after node losses: " +
                              std::to_string(duplicates_sent) + " records, the most duplicates the sinks may hold; " +
                              std::to_string(not_replayed_batches) + " batches (" +
                              std::to_string(not_replayed_records) + " records) not replayable; " +
                              std::to_string(refused) + " messages from fenced nodes refused");
  for (std::string& f : faults) result.errors.push_back(std::move(f));
  graph->collect(result);
  if (!options.summary_json.empty()) {
    nlohmann::json summary = nlohmann::json::parse(summary_json(workflow, result));
    nlohmann::json node_list = nlohmann::json::array();
    for (size_t i = 0; i < cluster.nodes.size(); ++i)
      node_list.push_back({{"name", names[i]},
                           {"address", cluster.nodes[i].host + ":" + std::to_string(cluster.nodes[i].port)},
                           {"lost", static_cast<bool>(node_lost[i])},
                           {"files", {{"needed", shipped[i].needed}, {"sent", shipped[i].files}, {"bytes_sent", shipped[i].bytes}}},
                           {"links", links.contains(names[i]) ? links[names[i]] : nlohmann::json()},
                           {"dashboard", dashboards.contains(names[i]) ? dashboards[names[i]] : nlohmann::json()}});
    summary["cluster"] = {{"nodes", node_list},
                          {"links_between_nodes", link_keys.size()},
                          {"on_node_loss", workflow.on_node_loss},
                          {"lost_nodes", lost_nodes},
                          {"epoch", epoch},
                          {"replayed_batches", replayed_batches},
                          {"duplicates_sent", duplicates_sent},
                          {"not_replayed_batches", not_replayed_batches},
                          {"not_replayed_records", not_replayed_records},
                          {"messages_refused", refused}};
    std::ofstream out(options.summary_json);
    out << summary.dump(2) << "\n";
    if (!out) result.errors.push_back(options.summary_json + ": cannot write the summary");
  }
  if (options.observer) options.observer->on_end(result);
  return result;
}

}  // namespace ebs::cluster
