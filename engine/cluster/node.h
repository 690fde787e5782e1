// `ebs-flow node`: a worker process of a cluster run (docs/cluster.md). It listens for a
// coordinator, builds the workflow the coordinator ships (checked against its hash), spawns the
// instances placed on it (engine/runtime/local_graph.h) with links to the other nodes
// (engine/cluster/link.h), runs them, and reports every instance's books at the end.
#pragma once

#include <caf/all.hpp>

#include <string>

#include "engine/cluster/feed_relay.h"
#include "engine/cluster/shipped_files.h"
#include "engine/graph/actor_registry.h"
#include "engine/plugin/plugin_loader.h"

namespace ebs::cluster {

// TLS between the processes of a cluster (libcaf-openssl): PEM files of this process's certificate,
// its private key, and the CA that signed every process's certificate. With all three, CAF's
// OpenSSL module encrypts and verifies the peer on both sides; without a CA it would fall back to
// an unauthenticated cipher, so a partial set is refused (problem()).
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
  // Why these files cannot be used (a partial set, a file that cannot be read); empty when they can.
  std::string problem() const;
};

// 127.0.0.0/8, ::1 and localhost: the only addresses a cluster process uses without TLS.
bool is_loopback(const std::string& host);

// Why a process of a cluster may not use `host` with `tls` (off loopback without TLS); empty if it may.
std::string tls_refusal(const std::string& host, const TlsFiles& tls);

struct NodeOptions {
  std::string name;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (printed on stdout as a JSON line)
  size_t threads = 0;
  std::string version;  // the ebs-flow version: nodes of another version are refused at the handshake
  TlsFiles tls;
  // Where the files a coordinator ships are kept between runs (engine/cluster/shipped_files.h).
  std::string cache_dir;
  // What it keeps there: pruned when the node starts and once a run's files are in place.
  CacheLimits cache_limits;
  // main()'s dashboard feed (not owned; null: none): what this node's `dashboard` sinks keep
  // goes to a coordinator that asks for it (feed_atom).
  FeedRelay* feed = nullptr;
};

// What a process of this build says at the BASP handshake: "ebs-flow VERSION protocol REVISION"
// (kClusterProtocolRevision); a peer saying anything else is refused.
std::string cluster_app_identifier(const std::string& version, int protocol_revision);

// The settings every process of a cluster shares: heartbeats (a frozen peer is noticed, not only a
// dead one) and the version and cluster protocol revision as the application identifier (BASP refuses a peer
// of another one).
// With TLS files, CAF's OpenSSL module is loaded: connect and listen with the functions below.
void configure_cluster(caf::actor_system_config& config, const std::string& version, size_t threads,
                       const TlsFiles& tls);

// The published actor at host:port, over TLS when `tls` is enabled.
caf::expected<caf::actor> reach(caf::actor_system& system, const std::string& host, uint16_t port, const TlsFiles& tls);

class CoordinatorRequests;

// Runs until the coordinator has collected the run (exit 0), the coordinator is lost or the run
// failed on this node (exit 1), or SIGINT/SIGTERM before any run (exit 0). `requests` (main()'s,
// may be null) is attached to the run's coordinator while a run is in hand.
int run_node(const NodeOptions& options, ActorRegistry& actors, PluginLoader& loader,
             CoordinatorRequests* requests = nullptr);

}  // namespace ebs::cluster
