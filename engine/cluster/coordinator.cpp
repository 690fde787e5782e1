#include "engine/cluster/coordinator.h"

#include <caf/io/all.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/cluster/messages.h"
#include "engine/cluster/node.h"
#include "engine/cluster/placement.h"
#include "engine/runtime/local_graph.h"
#include "engine/runtime/messages.h"
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

// A node's books of its instances into the coordinator's graph.
void fill_books(LocalGraph& graph, const nlohmann::json& report) {
  for (const nlohmann::json& b : report["instances"]) {
    const size_t index = b["index"];
    if (index >= graph.instances().size()) continue;
    GraphInstance& inst = graph.instances()[index];
    ActorStats& st = *inst.stats;
    st.in = b["in"].get<uint64_t>();
    st.forwarded = b["forwarded"].get<uint64_t>();
    st.filtered = b["filtered"].get<uint64_t>();
    st.failed = b["failed"].get<uint64_t>();
    st.dead_letters = b["dead_letters"].get<uint64_t>();
    st.peak_queued_batches = b["peak_queued_batches"].get<uint64_t>();
    for (size_t p = 0; p < st.emitted.size() && p < b["emitted"].size(); ++p) st.emitted[p] = b["emitted"][p].get<uint64_t>();
    st.dead_letter_reasons = b["dead_letter_reasons"].get<std::map<std::string, uint64_t>>();
    st.fault = b["fault"];
    inst.ended = b["ended"];
    inst.output = b["output"];
    inst.warnings = b["warnings"].get<std::vector<std::string>>();
  }
}

}  // namespace

RunResult run_on_cluster(const Workflow& workflow, const ActorRegistry& registry, const RunOptions& options,
                         const ClusterRun& cluster) {
  RunResult result;
  std::vector<std::string> names;
  for (const NodeAddress& n : cluster.nodes) names.push_back(n.name);
  std::optional<LocalGraph> graph_holder;
  try {
    graph_holder.emplace(workflow, registry, options.overwrite);
  } catch (const Fault& f) {
    result.errors.push_back(f.message());
    return result;
  }
  LocalGraph& graph = *graph_holder;
  const std::vector<std::string> placement = place_instances(graph, names);
  for (size_t i = 0; i < placement.size(); ++i) graph.instances()[i].node = placement[i];
  std::error_code ec;
  const std::string run_dir =
      std::filesystem::absolute(options.run_dir.empty() ? "." : options.run_dir, ec).lexically_normal().string();
  std::filesystem::create_directories(run_dir, ec);

  StopSignals signals(options.handle_signals);
  caf::actor_system_config config;
  configure_cluster(config, cluster.version, options.threads);
  caf::actor_system system(config);
  caf::scoped_actor self(system);
  const auto timeout = std::chrono::seconds(30);

  // Every node answers, and is the node it is said to be, before anything is placed.
  std::vector<caf::actor> nodes;
  for (const NodeAddress& n : cluster.nodes) {
    auto handle = system.middleman().remote_actor(n.host, n.port);
    if (!handle) {
      const caf::error& e = handle.error();
      const bool other_version = e.category() == caf::atom("system") &&
                                 e.code() == static_cast<uint8_t>(caf::sec::incompatible_application_ids);
      result.errors.push_back("node '" + n.name + "' at " + n.host + ":" + std::to_string(n.port) +
                              (other_version ? " runs another ebs-flow version than " + cluster.version +
                                                   " (refused at the handshake)"
                                             : " does not answer: " + system.render(e)));
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
  // Ship the workflow; each node spawns its instances and answers with its links in.
  std::vector<std::string> link_keys;
  std::vector<caf::actor> link_handles;
  for (size_t i = 0; i < nodes.size(); ++i) {
    self->request(nodes[i], timeout, prepare_atom::value, cluster.text, workflow.file, cluster.sets, cluster.plugins,
                  workflow_hash(cluster.text), placement, run_dir, options.credit_window, options.credit_window_bytes,
                  options.overwrite)
        .receive(
            [&](bool ok, const std::vector<std::string>& keys, const std::vector<caf::actor>& handles) {
              if (!ok) {
                for (const std::string& e : keys) result.errors.push_back("node '" + names[i] + "': " + e);
                return;
              }
              link_keys.insert(link_keys.end(), keys.begin(), keys.end());
              link_handles.insert(link_handles.end(), handles.begin(), handles.end());
            },
            [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not prepare: " + system.render(e)); });
    if (!result.errors.empty()) {
      abandon_nodes();
      return result;
    }
  }
  // Node i connects to every later node: one direct connection per pair.
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::vector<std::string> peers;
    for (size_t j = i + 1; j < nodes.size(); ++j)
      peers.push_back(cluster.nodes[j].host + ":" + std::to_string(cluster.nodes[j].port));
    self->request(nodes[i], timeout, peers_atom::value, peers)
        .receive(
            [&](bool ok, const std::vector<std::string>& errors) {
              if (!ok) result.errors.insert(result.errors.end(), errors.begin(), errors.end());
            },
            [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not connect: " + system.render(e)); });
  }
  for (size_t i = 0; result.errors.empty() && i < nodes.size(); ++i)
    self->request(nodes[i], timeout, wire_atom::value, link_keys, link_handles)
        .receive(
            [&](bool ok, size_t) {
              if (!ok) result.errors.push_back("node '" + names[i] + "' could not wire every link to its peers");
            },
            [&](caf::error& e) { result.errors.push_back("node '" + names[i] + "' did not wire: " + system.render(e)); });
  if (!result.errors.empty()) {
    abandon_nodes();
    return result;
  }
  result.started = true;
  spdlog::info("cluster of {} nodes ready: {} instances, {} links between nodes", nodes.size(), placement.size(),
               link_keys.size());
  auto started_at = std::chrono::steady_clock::now();
  for (caf::actor& node : nodes) self->send(node, msg::start_atom::value);

  std::vector<GraphInstance>& instances = graph.instances();
  size_t remaining = instances.size();
  std::vector<std::string> faults;
  bool aborted = false, stopping = false;
  std::vector<bool> node_lost(nodes.size(), false);
  while (remaining > 0 && !aborted && result.errors.empty()) {
    self->receive(
        [&](msg::done_atom, uint64_t index) {
          if (index < instances.size() && !instances[index].done) {
            instances[index].done = true;
            --remaining;
          }
        },
        [&](msg::fault_atom, uint64_t index, const std::string& what, bool abort) {
          faults.push_back("actor '" + instances[index].spec->id + "' instance " +
                           std::to_string(instances[index].instance) + " " + what);
          aborted = aborted || abort;
        },
        [&](caf::down_msg& down) {
          for (size_t i = 0; i < nodes.size(); ++i)
            if (nodes[i].address() == down.source && !node_lost[i]) {
              node_lost[i] = true;
              result.errors.push_back("node '" + names[i] + "' was lost during the run (" + caf::to_string(down.reason) +
                                      "); what it had not handled is not acknowledged");
            }
        },
        caf::after(std::chrono::milliseconds(50)) >> [&] {});
    if (int sig = signals.poll()) {
      if (result.interrupted) std::_Exit(128 + sig);
      spdlog::warn("{} received: the nodes finish in-flight batches", sig == SIGINT ? "SIGINT" : "SIGTERM");
      result.interrupted = true;
      if (!stopping)
        for (caf::actor& node : nodes) self->send(node, msg::stop_atom::value);
      stopping = true;
    }
  }
  result.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
  // Every node reports its books once its links out hold nothing.
  size_t expected_reports = 0;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!node_lost[i]) {
      self->send(nodes[i], collect_atom::value);
      ++expected_reports;
    }
  nlohmann::json links = nlohmann::json::object();
  std::vector<bool> reported(nodes.size(), false);  // a node exits once it reported: not a loss
  bool collecting = true;
  while (expected_reports > 0 && collecting) {
    self->receive(
        [&](collect_atom, const std::string& name, const std::string& text) {
          for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) reported[i] = true;
          nlohmann::json report = nlohmann::json::parse(text);
          fill_books(graph, report);
          links[name] = report["links"];
          if (report["links"]["still_held"].get<size_t>() > 0)
            result.errors.push_back("node '" + name + "': batches sent to another node were never released; they are abandoned");
          --expected_reports;
        },
        [&](caf::down_msg& down) {
          for (size_t i = 0; i < nodes.size(); ++i)
            if (nodes[i].address() == down.source && !node_lost[i] && !reported[i]) {
              node_lost[i] = true;
              result.errors.push_back("node '" + names[i] + "' was lost before it reported");
              --expected_reports;
            }
        },
        caf::after(std::chrono::seconds(60)) >> [&] {
          result.errors.push_back("a node did not report its books within 60 s");
          collecting = false;
        });
  }
  result.accounting_ok = result.errors.empty();
  for (std::string& f : faults) result.errors.push_back(std::move(f));
  graph.collect(result);
  if (!options.summary_json.empty()) {
    nlohmann::json summary = nlohmann::json::parse(summary_json(workflow, result));
    nlohmann::json node_list = nlohmann::json::array();
    for (size_t i = 0; i < cluster.nodes.size(); ++i)
      node_list.push_back({{"name", names[i]},
                           {"address", cluster.nodes[i].host + ":" + std::to_string(cluster.nodes[i].port)},
                           {"lost", static_cast<bool>(node_lost[i])},
                           {"links", links.contains(names[i]) ? links[names[i]] : nlohmann::json()}});
    summary["cluster"] = {{"nodes", node_list}, {"links_between_nodes", link_keys.size()}};
    std::ofstream out(options.summary_json);
    out << summary.dump(2) << "\n";
    if (!out) result.errors.push_back(options.summary_json + ": cannot write the summary");
  }
  return result;
}

}  // namespace ebs::cluster
