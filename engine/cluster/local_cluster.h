// `run --local-cluster N`: N `ebs-flow node` processes of this very binary on loopback, each on a
// port the system chose (read from the node's first line on stdout), stopped when the run ends.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "engine/cluster/coordinator.h"

namespace ebs::cluster {

class LocalCluster {
 public:
  // Starts the nodes "node1" .. "nodeN" with `threads` scheduler threads each (0: CAF's default),
  // over TLS with the coordinator's files when it has them. A node that does not come up within
  // 20 s is a Fault. They share `cache_dir` for the files the coordinator ships.
  LocalCluster(size_t nodes, size_t threads, const TlsFiles& tls, const std::string& cache_dir);
  // Waits for every node to exit (a node exits once the coordinator collected the run, or lost
  // it), then kills what is still running after a grace period.
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  const std::vector<NodeAddress>& nodes() const { return nodes_; }

 private:
  void stop_all();
  std::vector<NodeAddress> nodes_;
  std::vector<pid_t> pids_;
};

}  // namespace ebs::cluster
