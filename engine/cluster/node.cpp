#include "engine/cluster/node.h"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>


#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "engine/cluster/instance_books.h"
#include "engine/cluster/link.h"
#include "engine/cluster/coordinator_requests.h"
#include "engine/cluster/feed_shipper.h"
#include "engine/cluster/messages.h"
#include "engine/cluster/shipped_files.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/local_graph.h"
#include "engine/runtime/messages.h"
#include "engine/runtime/scheduler_config.h"
#include "engine/runtime/stop_signals.h"
#include "engine/cli/command_registry.h"
#include "engine/util/byte_size.h"
#include "engine/util/fault.h"

namespace ebs::cluster {

std::string TlsFiles::problem() const {
  if (!enabled()) return "";
  if (cert.empty() || key.empty() || ca.empty())
    return "TLS needs all three of --tls-cert, --tls-key and --tls-ca (without a CA, CAF's OpenSSL module would "
           "use an unauthenticated cipher)";
  for (const std::string* file : {&cert, &key, &ca})
    if (!std::ifstream(*file)) return "TLS: cannot read '" + *file + "'";
  return "";
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string tls_refusal(const std::string& host, const TlsFiles& tls) {
  if (std::string problem = tls.problem(); !problem.empty()) return problem;
  if (!tls.enabled() && !is_loopback(host))
    return "'" + host + "' is not a loopback address: a cluster off loopback needs TLS (--tls-cert, --tls-key and "
           "--tls-ca on every node and on the coordinator; docs/cluster.md \"Security\")";
  return "";
}

caf::expected<caf::actor> reach(caf::actor_system& system, const std::string& host, uint16_t port, const TlsFiles& tls) {
  if (tls.enabled()) return caf::openssl::remote_actor(system, host, port);
  return system.middleman().remote_actor(host, port);
}

std::string cluster_app_identifier(const std::string& version, int protocol_revision) {
  return "ebs-flow " + version + " protocol " + std::to_string(protocol_revision);
}

void configure_cluster(caf::actor_system_config& config, const std::string& version, size_t threads,
                       const TlsFiles& tls) {
  config.load<caf::io::middleman>();
  if (tls.enabled()) {
    config.load<caf::openssl::manager>();
    config.openssl_certificate = tls.cert;
    config.openssl_key = tls.key;
    config.openssl_cafile = tls.ca;
  }
  configure_scheduler(config, threads);
  config.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(500)});
  config.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(4)});
  config.set("middleman.app-identifiers", std::vector<std::string>{cluster_app_identifier(version, kClusterProtocolRevision)});
  // Messages from other processes are decoded on the middleman's own thread, not handed to
  // decoding workers that run on the scheduler: an instance that waits for the coordinator's answer
  // (the `filters` actor's switch points, engine/cluster/coordinator_requests.h) may hold a node's
  // only scheduler thread, and the answer must still arrive.
  config.set("middleman.workers", size_t{0});
  config.add_message_type<std::vector<uint64_t>>("std::vector<uint64_t>");  // instance indices (failover)
}

namespace {

// The workflow as the coordinator validated it: the same text, overrides and plugins (every one
// the coordinator loaded, from this node's copies); the actors of `config_files` resolve their
// paths against the copy of the workflow's folder that holds the shipped files.
std::optional<Workflow> build_shipped(const std::string& text, const std::string& file,
                                      const std::vector<std::string>& sets, const std::vector<std::string>& plugins,
                                      const std::map<std::string, std::string>& config_files, ActorRegistry& actors,
                                      PluginLoader& loader, std::vector<std::string>& errors) {
  std::vector<Problem> problems;
  auto document = parse_workflow_text(text, file, problems);
  std::optional<Workflow> workflow;
  if (document) {
    document->config_files = config_files;
    for (const std::string& p : plugins) {
      try {
        loader.load(p, actors);
      } catch (const Fault& f) {
        problems.push_back({f.place(), f.message()});
      }
    }
    apply_overrides(*document, sets, problems);
    workflow = build_workflow(*document, actors, problems);
  }
  for (const Problem& p : problems) errors.push_back(format_problem(p));
  if (!problems.empty()) return std::nullopt;
  return workflow;
}

// One descriptor a held cache entry (engine/util/cache_use.h): a run of ~1000 shipped files
// passes a soft limit of 1024. Raised to the hard limit; a hold that fails is only not protected.
void raise_open_files_limit(const std::string& node) {
  struct rlimit files {};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  if (files.rlim_cur < files.rlim_max) {
    const rlim_t was = files.rlim_cur;
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0) files.rlim_cur = was;
  }
  if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < 4096)
    spdlog::warn("node {}: at most {} open files (ulimit -n, hard limit): a run of more shipped files than about "
                 "that cannot hold them all in the cache, and a prune by another node could remove one it uses",
                 node, static_cast<uint64_t>(files.rlim_cur));
}

}  // namespace

int run_node(const NodeOptions& options, ActorRegistry& actors, PluginLoader& loader, CoordinatorRequests* requests) {
  StopSignals signals;
  caf::actor_system_config config;
  configure_cluster(config, options.version, options.threads, options.tls);
  caf::actor_system system(config);
  caf::scoped_actor self(system);
  raise_open_files_limit(options.name);
  NodeFileCache cache(options.cache_dir, options.name);
  auto port = options.tls.enabled()
                  ? caf::openssl::publish(caf::actor_cast<caf::actor>(self), options.port, options.host.c_str(), true)
                  : system.middleman().publish(caf::actor_cast<caf::actor>(self), options.port, options.host.c_str(), true);
  if (!port) {
    std::cerr << "node " << options.name << ": cannot listen on " << options.host << ":" << options.port << ": "
              << system.render(port.error()) << "\n";
    return exit_code::failed;
  }
  // Scripts (and `run --local-cluster`) read where the node listens from this line.
  std::cout << nlohmann::json{{"node", options.name}, {"listen", options.host + ":" + std::to_string(*port)}}.dump()
            << std::endl;
  spdlog::info("node {} listening on {}:{}", options.name, options.host, *port);
  // After the listen line, which `run --local-cluster` waits for (20 s at most): a prune of a large
  // cache must not hold it back; a coordinator's messages wait meanwhile (docs/cluster.md "The
  // node's cache").
  cache.prune(options.cache_limits);
  bool prune_due = false;  // once prepare has been answered
  // What the run holds is marked used at every prune, at the end, and hourly: a node killed after
  // running longer than --cache-keep-days leaves its files looking used.
  constexpr auto kMarkHeldEvery = std::chrono::hours(1);
  auto held_marked = std::chrono::steady_clock::now();

  std::unique_ptr<Workflow> workflow;
  std::unique_ptr<LocalGraph> graph;
  // The graphs of attempts a restart tore down (on_node_loss: restart), kept to the end: their
  // instances' logic and specs must outlive every actor that may still hold them.
  std::vector<std::pair<std::unique_ptr<Workflow>, std::unique_ptr<LocalGraph>>> retired;
  std::vector<NeededFile> needed;  // the files of the actors placed here, as the coordinator staged them
  std::vector<std::string> elsewhere;  // the actors whose files are not shipped here (none of their instances)
  uint64_t pieces_received = 0, bytes_received = 0;
  auto acks = std::make_shared<AckScope>();
  auto counters = std::make_shared<LinkCounters>();
  // Links by their edge's text (EdgeKey::text).
  struct Link {
    EdgeKey key;
    caf::actor handle;
  };
  std::map<std::string, Link> links_out, links_in;
  std::map<caf::actor_addr, bool> drained;  // per link out: it holds nothing and its upstream ended
  auto links_out_running = [&] {
    return static_cast<size_t>(std::count_if(drained.begin(), drained.end(), [](const auto& d) { return !d.second; }));
  };
  std::vector<std::string> where;  // the node of every instance (updated when a lost node's move)
  SpawnOptions spawn_base;         // what every spawn of this run shares (run dir, credit, acks)
  int64_t held_tokens_bytes = 0;   // each link out's bound on held batches kept as tokens only (0: one window)
  caf::actor coordinator;
  bool running = true, started = false, collecting = false;
  // A restart in progress: the local instances of the torn-down attempt whose end it waits for.
  bool restarting = false;
  // After a drain cut: what this node's scope abandoned is counted once every holder let go.
  bool counting = false;
  std::chrono::steady_clock::time_point counting_deadline;
  std::set<caf::actor_addr> ending;  // the instances (and, counting, links) whose end is waited for
  std::chrono::steady_clock::time_point restart_deadline;
  int exit = exit_code::ok;
  std::chrono::steady_clock::time_point collect_deadline;
  // The last message (books, or the abandoned count) is sent: the node exits once the coordinator
  // acknowledged it (report_ack_atom), is gone, or kReportAckWait passed.
  bool closing = false;
  std::chrono::steady_clock::time_point closing_deadline;
  auto close_after_ack = [&] {
    closing = true;
    closing_deadline = std::chrono::steady_clock::now() + kReportAckWait;
  };
  uint64_t attempt_epoch = kFirstEpoch;  // the epoch of this attempt's wire, on its books
  auto last_books = std::chrono::steady_clock::now();
  // What the dashboard sinks here keep goes to a coordinator serving `run --http`, one
  // acknowledged shipment at a time (engine/cluster/feed_shipper.h).
  FeedShipper feed(options.feed, options.name);
  auto send_feed = [&](FeedPart&& part) {
    self->send(coordinator, feed_atom::value, options.name, std::move(part.state), std::move(part.types),
               std::move(part.encodings));
  };
  bool feed_skipping_said = false;
  auto tick_feed = [&] {
    FeedShipment shipment = feed.tick(kMaxMessageBytes, send_feed);
    if (shipment.skipped > 0 && !feed_skipping_said)
      spdlog::warn("node {}: the dashboard sinks here keep more new records than one shipment to the coordinator's "
                   "page takes (dashboard_shipment_bytes = {} every {} ms): the older are skipped, never shown "
                   "there (counted: records_not_shipped)",
                   options.name, describe_bytes(static_cast<int64_t>(feed.budgets().shipment_bytes)),
                   kBooksInterval.count());
    feed_skipping_said = feed_skipping_said || shipment.skipped > 0;
  };
  auto ship_last_feed = [&] {
    FeedShipment last = feed.last(kMaxMessageBytes, send_feed);
    if (last.skipped > 0)
      spdlog::warn("node {}: {} older records kept by the dashboard sinks here are not shipped to the coordinator's "
                   "page (the last shipment holds at most dashboard_final_shipment_bytes = {}: the newest {} "
                   "records, {} bytes)",
                   options.name, last.skipped, describe_bytes(static_cast<int64_t>(feed.budgets().final_bytes)),
                   last.records, last.bytes);
  };
  auto tear_down = [&] {
    acks->tear_down();
    if (graph)
      for (GraphInstance& inst : graph->instances())
        if (inst.handle && !inst.done) self->send_exit(inst.handle, caf::exit_reason::user_shutdown);
    for (auto& [text, link] : links_out) self->send_exit(link.handle, caf::exit_reason::user_shutdown);
    for (auto& [text, link] : links_in) self->send_exit(link.handle, caf::exit_reason::user_shutdown);
  };
  auto new_link_out = [&](const EdgeKey& key) {
    caf::actor link = spawn_link_out(system, caf::actor_cast<caf::actor>(self), counters, spawn_base.credit,
                                     held_limits(spawn_base.credit.bytes, held_tokens_bytes));
    links_out[key.text()] = {key, link};
    drained[link.address()] = false;
    return link;
  };
  auto new_link_in = [&](const EdgeKey& key, const caf::actor& target) {
    caf::actor link = spawn_link_in(system, target, key.to, caf::actor_cast<caf::actor>(self), acks, counters);
    links_in[key.text()] = {key, link};
    return link;
  };
  auto local_books = [&] {
    nlohmann::json books = nlohmann::json::array();
    for (size_t i = 0; i < graph->instances().size(); ++i)
      if (graph->instances()[i].local) books.push_back(instance_books(graph->instances()[i], i));
    return books;
  };
  // Reports the books and ends the run here; `count_abandoned` (a drain cut): then waits until its
  // instances and links have ended, every token let go, and sends the records its scope abandoned.
  auto report = [&](bool count_abandoned) {
    // Before the books (one sender's messages keep their order, and the coordinator stops
    // listening once it has every node's books): what the sinks here keep and did not ship yet,
    // whether or not a shipment is in transit, the newest up to the final budget so that the books
    // are not held back long. The older ones over it are skipped as during the run (counted).
    ship_last_feed();
    graph->read_reports();
    nlohmann::json books = local_books();
    nlohmann::json out{{"node", options.name},
                       {"instances", books},
                       {"links", {{"batches_sent", counters->batches_sent.load()},
                                  {"messages_sent", counters->messages_sent.load()},
                                  {"bytes_sent", counters->bytes_sent.load()},
                                  {"batches_abandoned", counters->batches_abandoned.load()},
                                  {"batches_replayed", counters->batches_replayed.load()},
                                  {"records_replayed", counters->records_replayed.load()},
                                  {"batches_not_replayed", counters->batches_not_replayed.load()},
                                  {"records_not_replayed", counters->records_not_replayed.load()},
                                  {"batches_unkept", counters->batches_unkept.load()},
                                  {"held_tokens_bytes", counters->held_tokens_bytes.load()},
                                  {"held_tokens_peak_bytes", counters->held_tokens_peak_bytes.load()},
                                  {"credits_held_back", counters->credits_held_back.load()},
                                  {"held_back_peak", counters->held_back_peak.load()},
                                  {"messages_refused", counters->messages_refused.load()},
                                  {"still_held", links_out_running()}}},
                       {"dashboard", {{"records_shipped", feed.total().records},
                                      {"records_not_shipped", feed.total().skipped},
                                      {"bytes_shipped", feed.total().bytes},
                                      {"shipment_bytes", feed.budgets().shipment_bytes},
                                      {"final_shipment_bytes", feed.budgets().final_bytes}}}};
    self->send(coordinator, collect_atom::value, options.name, out.dump());
    if (count_abandoned) {
      // A monitor of an actor that has ended already answers at once.
      ending.clear();
      auto watch = [&](const caf::actor& handle) {
        if (!handle) return;
        ending.insert(handle.address());
        self->monitor(handle);
      };
      for (GraphInstance& inst : graph->instances())
        if (inst.local) watch(inst.handle);
      for (auto& [text, link] : links_out) watch(link.handle);
      for (auto& [text, link] : links_in) watch(link.handle);
      counting = true;
      // As a restart waits for a torn-down attempt; a hung sink ends at its own time-outs.
      counting_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    } else {
      close_after_ack();
    }
    tear_down();  // what did not end by now (a stuck instance, a link whose peer is gone) ends here
  };
  while (running) {
    self->receive(
        [&](hello_atom) { return caf::make_message(options.name, options.version); },
        [&](stage_atom, const std::vector<std::string>& owners, const std::vector<std::string>& paths,
            const std::vector<std::string>& hashes, const std::vector<std::string>& not_here) {
          needed.clear();
          elsewhere = not_here;
          for (size_t i = 0; i < owners.size() && i < paths.size() && i < hashes.size(); ++i)
            needed.push_back({owners[i], paths[i], hashes[i]});
          std::string problem = owners.size() == paths.size() && paths.size() == hashes.size()
                                    ? manifest_problem(needed)
                                    : std::string("the list of files is malformed");
          if (!problem.empty()) {
            needed.clear();
            return caf::make_message(false, std::vector<std::string>{"node " + options.name + ": " + problem});
          }
          return caf::make_message(true, cache.missing(needed));
        },
        [&](file_piece_atom, const std::string& sha256, uint64_t offset, const std::string& bytes, bool last) {
          std::string problem = cache.receive(sha256, offset, bytes, last);
          ++pieces_received;
          bytes_received += bytes.size();
          return caf::make_message(problem.empty(), problem);
        },
        [&](prepare_atom, const std::string& text, const std::string& file, const std::vector<std::string>& sets,
            const std::vector<std::string>& plugins, const std::string& hash, const std::vector<std::string>& placement,
            const std::string& run_dir, int64_t credit_batches, int64_t credit_bytes, int64_t tokens_bytes,
            int64_t shipment_bytes, int64_t final_shipment_bytes, bool overwrite, const caf::actor& services) {
          std::vector<std::string> errors;
          std::vector<std::string> keys;
          std::vector<caf::actor> handles;
          coordinator = caf::actor_cast<caf::actor>(self->current_sender());
          self->monitor(coordinator);
          // Before anything is built: instances ask the coordinator from their open() on.
          if (requests) requests->attach(system, services, options.name, attempt_epoch);
          if (graph) errors.push_back("node " + options.name + " is already running a workflow");
          else if (workflow_hash(text) != hash) errors.push_back("node " + options.name + ": the workflow text does not match its hash");
          // A window of 0 batches never opens: refused here too, whoever sent it.
          if (errors.empty())
            for (const std::string& problem : credit_problems({credit_batches, credit_bytes}, tokens_bytes))
              errors.push_back("node " + options.name + ": " + problem);
          if (errors.empty())
            if (std::string problem = feed_budget_problem(shipment_bytes, final_shipment_bytes); !problem.empty())
              errors.push_back("node " + options.name + ": " + problem);
          std::filesystem::path root;
          if (errors.empty()) {
            try {
              root = cache.lay_out(needed);
              prune_due = true;  // after the answer; the run's files are held now: never removed
            } catch (const Fault& f) {
              errors.push_back("node " + options.name + ": " + f.place() + ": " + f.message());
            }
          }
          if (errors.empty()) {
            std::vector<std::string> local_plugins;
            std::map<std::string, std::string> config_files;
            for (const std::string& p : plugins) local_plugins.push_back(under_root(root, p).string());
            for (const NeededFile& f : needed)
              if (!f.owner.empty()) config_files[f.owner] = under_root(root, file).string();
            for (const std::string& id : elsewhere) config_files[id] = "";  // not built here: no check
            if (auto built = build_shipped(text, file, sets, local_plugins, config_files, actors, loader, errors))
              workflow = std::make_unique<Workflow>(std::move(*built));
            // The budgets of what the dashboard sinks here ship: the run's (its flags over its workflow's).
            feed.set_budgets({static_cast<size_t>(shipment_bytes), static_cast<size_t>(final_shipment_bytes)});
            if (workflow)
              for (std::string& problem : check_needed_files(*workflow, needed, root, options.name))
                errors.push_back(std::move(problem));
            if (errors.empty() && !needed.empty())
              spdlog::info("node {}: the run's {} files checked against the coordinator's hashes ({} bytes received in "
                           "{} pieces; cache {})",
                           options.name, needed.size(), bytes_received, pieces_received, cache.dir().string());
          }
          if (errors.empty()) {
            try {
              graph = std::make_unique<LocalGraph>(*workflow, actors, overwrite);
            } catch (const Fault& f) {
              errors.push_back(f.message());
            }
          }
          if (errors.empty() && placement.size() != graph->instances().size())
            errors.push_back("node " + options.name + ": the placement does not match the workflow's instances");
          if (errors.empty()) {
            for (size_t i = 0; i < placement.size(); ++i) graph->instances()[i].node = placement[i];
            where = placement;
            spawn_base.run_dir = run_dir;
            spawn_base.credit = {credit_batches, credit_bytes};
            held_tokens_bytes = tokens_bytes;
            spawn_base.overwrite = overwrite;
            spawn_base.acks = acks;
            SpawnOptions spawn = spawn_base;
            spawn.local = [&](size_t index) { return where[index] == options.name; };
            spawn.link_out = [&](const EdgeKey& key) { return new_link_out(key); };
            spawn.link_in = [&](const EdgeKey& key, const caf::actor& target) {
              caf::actor link = new_link_in(key, target);
              keys.push_back(key.text());
              handles.push_back(link);
            };
            if (!graph->spawn(system, caf::actor_cast<caf::actor>(self), spawn, errors)) tear_down();
          }
          if (!errors.empty()) {
            for (const std::string& e : errors) spdlog::error("{}", e);
            return caf::make_message(false, errors, std::vector<caf::actor>{});
          }
          spdlog::info("node {}: {} instances placed here, {} links out, {} links in", options.name,
                       std::count(placement.begin(), placement.end(), options.name), links_out.size(), links_in.size());
          return caf::make_message(true, keys, handles);
        },
        [&](peers_atom, const std::vector<std::string>& peers) {
          // Direct connections first: a handle of a node learned through the coordinator would
          // otherwise route every batch through the coordinator.
          std::vector<std::string> errors;
          for (const std::string& peer : peers) {
            const size_t colon = peer.rfind(':');
            const std::string host = peer.substr(0, colon);
            const auto port = static_cast<uint16_t>(std::stoi(peer.substr(colon + 1)));
            // Over TLS there is only remote_actor (the peer's published node): it connects all the same.
            caf::error failed;
            if (options.tls.enabled()) {
              if (auto node = reach(system, host, port, options.tls); !node) failed = node.error();
            } else if (auto node = system.middleman().connect(host, port); !node) {
              failed = node.error();
            }
            if (failed)
              errors.push_back("node " + options.name + " cannot connect to its peer " + peer + ": " +
                               system.render(failed));
          }
          return caf::make_message(errors.empty(), errors);
        },
        [&](wire_atom, const std::vector<std::string>& keys, const std::vector<caf::actor>& handles, uint64_t epoch) {
          attempt_epoch = epoch;
          if (requests) requests->set_attempt(epoch);
          size_t wired = 0;
          for (size_t i = 0; i < keys.size(); ++i)
            if (auto it = links_out.find(keys[i]); it != links_out.end()) {
              self->send(it->second.handle, peer_atom::value, handles[i], epoch, false);
              ++wired;
            }
          return caf::make_message(wired == links_out.size(), wired);
        },
        [&](replace_atom, uint64_t epoch, const std::string& lost, const std::vector<uint64_t>& indices,
            const std::vector<std::string>& keys, const std::vector<caf::actor>& handles) {
          // This node takes the lost node's instances: it spawns them, wires them to the running
          // instances here (through the links in that stood for them) and to other nodes.
          std::vector<std::string> errors, new_keys;
          std::vector<caf::actor> new_handles;
          std::map<std::string, caf::actor> directory;
          for (size_t i = 0; i < keys.size() && i < handles.size(); ++i) directory[keys[i]] = handles[i];
          const std::set<size_t> fresh(indices.begin(), indices.end());
          for (size_t i : fresh) {
            where[i] = options.name;
            graph->instances()[i].node = options.name;
          }
          SpawnOptions spawn = spawn_base;
          spawn.local = [&](size_t index) { return where[index] == options.name; };
          spawn.fresh = [&](size_t index) { return fresh.count(index) > 0; };
          spawn.link_out = [&](const EdgeKey& key) {
            caf::actor link = new_link_out(key);
            if (auto it = directory.find(key.text()); it != directory.end())
              self->send(link, peer_atom::value, it->second, epoch, false);
            else
              errors.push_back("node " + options.name + ": no link in for edge " + key.text());
            return link;
          };
          spawn.to_running = [&](const EdgeKey& key) -> caf::actor {
            auto it = links_in.find(key.text());
            if (it == links_in.end()) {
              errors.push_back("node " + options.name + ": no link in for edge " + key.text());
              return nullptr;
            }
            self->send(it->second.handle, fence_atom::value, epoch);
            return it->second.handle;
          };
          spawn.rebind_out = [&](const EdgeKey& key, const caf::actor& target) {
            if (auto it = links_out.find(key.text()); it != links_out.end())
              self->send(it->second.handle, peer_atom::value, target, epoch, true);
          };
          spawn.link_in = [&](const EdgeKey& key, const caf::actor& target) {
            caf::actor link = new_link_in(key, target);
            // An upstream left on the lost node had finished (only finished instances are not
            // moved): its end of stream went to the lost instance, so the replacement gets it here.
            if (where[key.from] == lost) self->send(link, link_eos_atom::value, epoch);
            new_keys.push_back(key.text());
            new_handles.push_back(link);
          };
          if (graph->spawn(system, caf::actor_cast<caf::actor>(self), spawn, errors))
            for (size_t i : fresh) {
              GraphInstance& inst = graph->instances()[i];
              self->monitor(inst.handle);
              self->send(inst.handle, msg::start_atom::value);
            }
          spdlog::warn("node {}: took {} instances of lost node {} (epoch {})", options.name, fresh.size(), lost, epoch);
          if (!errors.empty()) return caf::make_message(false, errors, std::vector<caf::actor>{});
          return caf::make_message(true, new_keys, new_handles);
        },
        [&](failover_atom, uint64_t epoch, const std::string& lost, const std::vector<uint64_t>& indices,
            const std::vector<std::string>& moved_to, const std::vector<std::string>& keys,
            const std::vector<caf::actor>& handles) {
          // Every survivor: links to a replaced instance go to its replacement (and replay what
          // the lost node had not released), links to a lost instance that is not replaced give
          // up their tokens as abandoned, links from the lost node are fenced.
          std::map<std::string, caf::actor> directory;
          for (size_t i = 0; i < keys.size() && i < handles.size(); ++i) directory[keys[i]] = handles[i];
          std::map<size_t, std::string> replaced;  // instance index -> the node that took it
          for (size_t i = 0; i < indices.size() && i < moved_to.size(); ++i) replaced[indices[i]] = moved_to[i];
          for (auto& [text, link] : links_out) {
            const bool to_replaced = replaced.count(link.key.to) > 0;
            if (to_replaced && replaced[link.key.to] == options.name) continue;  // rebound locally by replace
            if (!to_replaced && where[link.key.to] != lost) continue;
            auto it = directory.find(text);
            if (to_replaced && it != directory.end()) {
              self->send(link.handle, peer_atom::value, it->second, epoch, false);
            } else {
              self->send(link.handle, abandon_atom::value);
            }
          }
          for (auto& [text, link] : links_in)
            if (replaced.count(link.key.from) || where[link.key.from] == lost)
              self->send(link.handle, fence_atom::value, epoch);
          for (const auto& [i, node] : replaced) {
            where[i] = node;
            graph->instances()[i].node = node;
          }
        },
        [&](drained_atom, bool is_drained) {
          // Only this attempt's links count (a link of a torn-down attempt may still speak).
          auto it = drained.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
          if (it != drained.end()) it->second = is_drained;
        },
        [&](restart_atom, uint64_t epoch) {
          // on_node_loss: restart (docs/cluster.md "Failures"): this attempt ends here. Its scope is
          // torn down first, so every token still held is abandoned: no Kafka source commits past
          // what the sinks wrote. The next attempt is prepared once its instances have ended (a
          // sink's file closed before the next attempt's sink opens it).
          spdlog::warn("node {}: the run restarts (epoch {}): this attempt is torn down, nothing more is acknowledged",
                       options.name, epoch);
          // The next attempt's instances ask the coordinator with its epoch from their open() on
          // (prepare), before its wire; the coordinator refuses what this one still asks.
          attempt_epoch = epoch;
          ending.clear();
          if (graph)
            for (GraphInstance& inst : graph->instances())
              if (inst.local && inst.handle && !inst.done) ending.insert(inst.handle.address());
          tear_down();
          restarting = true;
          restart_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        },
        [&](msg::start_atom) {
          started = true;
          for (GraphInstance& inst : graph->instances()) {
            if (!inst.local) continue;
            self->monitor(inst.handle);
            self->send(inst.handle, msg::start_atom::value);
          }
        },
        [&](msg::stop_atom) {
          for (GraphInstance& inst : graph->instances())
            if (inst.local && inst.spec->type->is_source() && !inst.done) self->send(inst.handle, msg::stop_atom::value);
        },
        [&](msg::done_atom, uint64_t index) {
          if (restarting || !graph || index >= graph->instances().size()) return;
          graph->instances()[index].ended = true;
          graph->instances()[index].done = true;
          self->send(coordinator, msg::done_atom::value, index);
        },
        [&](msg::fault_atom, uint64_t index, const std::string& what, bool abort) {
          if (restarting) return;  // an instance of the attempt being torn down
          self->send(coordinator, msg::fault_atom::value, index, "on node " + options.name + ": " + what, abort);
        },
        [&](feed_atom) { feed.want(); },
        [&](feed_ack_atom) { feed.acknowledged(); },
        // After a drain cut the books' acknowledgement comes while the node counts: it waits for the count's.
        [&](report_ack_atom, collect_atom) {
          if (closing && !counting) running = false;
        },
        [&](report_ack_atom, abandoned_atom) {
          if (closing) running = false;
        },
        [&](collect_atom) {
          collecting = true;
          collect_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        },
        [&](drain_cut_atom) {
          // The drain ran out of time: what is still held is abandoned before anything else, so
          // that nothing more is acknowledged; the books go at once (the links will not drain).
          spdlog::warn("node {}: the drain did not end in time: everything not yet acknowledged is abandoned",
                       options.name);
          acks->tear_down();
          if (graph) report(true);
          else running = false;
        },
        [&](caf::down_msg& down) {
          if (coordinator && down.source == coordinator.address() && closing) {
            // It ended after (or while) this node's last message went: the run is over here.
            spdlog::info("node {}: the coordinator ended before acknowledging this node's report ({})",
                         options.name, caf::to_string(down.reason));
            running = false;
            return;
          }
          if (coordinator && down.source == coordinator.address()) {
            // The coordinator is gone: nothing more may be acknowledged or committed.
            spdlog::error("node {}: the coordinator was lost ({}); stopping without committing", options.name,
                          caf::to_string(down.reason));
            tear_down();
            exit = exit_code::failed;
            running = false;
            return;
          }
          if (closing) return;  // the instances torn down after the report: nothing more to tell
          if (restarting || counting) {
            ending.erase(down.source);
            return;
          }
          if (graph)
            for (size_t i = 0; i < graph->instances().size(); ++i) {
              GraphInstance& inst = graph->instances()[i];
              if (inst.handle && inst.handle.address() == down.source && !inst.done) {
                inst.done = true;
                self->send(coordinator, msg::fault_atom::value, uint64_t{i},
                           "on node " + options.name + ": stopped unexpectedly: " + caf::to_string(down.reason), true);
              }
            }
        },
        [&](caf::exit_msg& e) {
          // The coordinator gave up on the run before it started (a node failed to prepare).
          spdlog::error("node {}: the run was abandoned ({})", options.name, caf::to_string(e.reason));
          tear_down();
          exit = exit_code::failed;
          running = false;
        },
        caf::after(std::chrono::milliseconds(50)) >> [&] {});
    if (prune_due) {
      prune_due = false;
      cache.prune(options.cache_limits);
      held_marked = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - held_marked > kMarkHeldEvery) {
      cache.mark_held_used();
      held_marked = std::chrono::steady_clock::now();
    }
    if (int sig = signals.poll()) {
      if (!started) {
        spdlog::info("node {}: stopping ({})", options.name, sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
      }
      // During a run the coordinator drives the drain; a signal here stops this node's sources.
      for (GraphInstance& inst : graph->instances())
        if (inst.local && inst.spec->type->is_source() && !inst.done) self->send(inst.handle, msg::stop_atom::value);
    }
    if (running && restarting && (ending.empty() || std::chrono::steady_clock::now() > restart_deadline)) {
      if (!ending.empty())
        spdlog::warn("node {}: {} instances of the torn-down attempt did not end within 20 s", options.name,
                     ending.size());
      if (graph) retired.emplace_back(std::move(workflow), std::move(graph));
      workflow.reset();
      links_out.clear();
      links_in.clear();
      drained.clear();
      where.clear();
      acks = std::make_shared<AckScope>();  // the torn-down scope abandons for good
      // The page follows the new attempt: what the torn-down one's sinks kept is not shipped.
      feed.begin_attempt(attempt_epoch);
      // The books of the links start again with the attempt (what the torn-down links gave up
      // is read again from the sources, not lost).
      counters = std::make_shared<LinkCounters>();
      started = collecting = restarting = false;
      ending.clear();
      self->send(coordinator, restart_atom::value, options.name);
    }
    if (running && started && !restarting && !collecting && !counting && graph &&
        std::chrono::steady_clock::now() - last_books >= kBooksInterval) {
      self->send(coordinator, books_atom::value, attempt_epoch, options.name,
                 nlohmann::json{{"instances", local_books()}}.dump());
      tick_feed();
      last_books = std::chrono::steady_clock::now();
    }
    // Collected once every link out has its batches released (or the bound passed).
    if (running && closing && std::chrono::steady_clock::now() > closing_deadline) {
      spdlog::warn("node {}: the coordinator did not acknowledge this node's last message within {} s; stopping",
                   options.name, kReportAckWait.count());
      running = false;
    }
    if (running && !closing && collecting && (links_out_running() == 0 || std::chrono::steady_clock::now() > collect_deadline))
      report(false);
    if (running && !closing && counting && (ending.empty() || std::chrono::steady_clock::now() > counting_deadline)) {
      // Every record issued here and not acknowledged by the cut is abandoned (the scope is torn
      // down: nothing is acknowledged after it), whether or not its holder has let go yet: the
      // count is whole unless a source is still running (it may still read, and abandon, more).
      bool source_running = false;
      if (graph)
        for (GraphInstance& inst : graph->instances())
          if (inst.local && inst.handle && inst.spec->type->is_source() && ending.count(inst.handle.address()))
            source_running = true;
      if (!ending.empty())
        spdlog::warn("node {}: {} instances or links did not end within 20 s of the drain cut{}", options.name,
                     ending.size(),
                     source_running ? ", a source among them: the abandoned records are not all counted"
                                    : "; what they hold is counted as abandoned");
      // Tokens held inside an instance's logic (a sink's unflushed records, held events) are let
      // go with it, as one process drops the logic before it counts: an instance that ended has
      // dropped its own handle already.
      if (graph)
        for (GraphInstance& inst : graph->instances())
          if (inst.local) inst.logic.reset();
      // What the sinks kept between the cut's report and their end goes too, before the count
      // (the coordinator takes feed parts until it has every node's count).
      ship_last_feed();
      self->send(coordinator, abandoned_atom::value, options.name, acks->records_unacknowledged(), !source_running);
      close_after_ack();
    }
  }
  if (exit != exit_code::ok) tear_down();
  if (requests) requests->detach();
  // Strong handles kept past the run would keep detached actors' threads, which the actor system
  // waits for when it ends.
  if (graph) retired.emplace_back(std::move(workflow), std::move(graph));
  for (auto& [old_workflow, old_graph] : retired)
    for (GraphInstance& inst : old_graph->instances()) {
      inst.logic.reset();
      inst.handle = nullptr;
    }
  links_out.clear();
  links_in.clear();
  coordinator = nullptr;
  return exit;
}

}  // namespace ebs::cluster
