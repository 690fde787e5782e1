#include "engine/cluster/local_cluster.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/util/fault.h"

extern char** environ;

namespace ebs::cluster {

namespace {

// The first line a node prints: {"node": NAME, "listen": "HOST:PORT"}.
std::string read_line(int fd, std::chrono::steady_clock::time_point deadline) {
  std::string line;
  char c;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) break;
    if (c == '\n') return line;
    line += c;
  }
  return {};
}

}  // namespace

LocalCluster::LocalCluster(size_t nodes, size_t threads, const TlsFiles& tls, const std::string& cache_dir) {
  const std::string self = "/proc/self/exe";
  for (size_t i = 1; i <= nodes; ++i) {
    const std::string name = "node" + std::to_string(i);
    int out[2];
    if (::pipe(out) != 0) throw Fault(FaultKind::failed, "--local-cluster", "cannot make a pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> args{"ebs-flow", "node", "--name", name, "--listen", "127.0.0.1:0", "--cache-dir", cache_dir};
    if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
    if (tls.enabled()) args.insert(args.end(), {"--tls-cert", tls.cert, "--tls-key", tls.key, "--tls-ca", tls.ca});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      stop_all();
      throw Fault(FaultKind::failed, "--local-cluster", "cannot start node " + name);
    }
    pids_.push_back(pid);
    const std::string line = read_line(out[0], std::chrono::steady_clock::now() + std::chrono::seconds(20));
    ::close(out[0]);  // the node's later lines (none expected) go nowhere
    std::string listen;
    try {
      listen = nlohmann::json::parse(line).at("listen");
    } catch (const std::exception&) {
      stop_all();
      throw Fault(FaultKind::failed, "--local-cluster", "node " + name + " did not come up");
    }
    const size_t colon = listen.rfind(':');
    nodes_.push_back({name, listen.substr(0, colon), static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)))});
  }
}

LocalCluster::~LocalCluster() { stop_all(); }

void LocalCluster::stop_all() {
  // A node ends by itself once the run was collected or its coordinator is gone; one that never
  // met a coordinator ends on SIGTERM; what still runs then is killed.
  auto wait_all = [&](std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (pid_t& pid : pids_) {
      int status = 0;
      while (pid > 0 && ::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      pid = 0;
    }
  };
  wait_all(std::chrono::milliseconds(3000));
  for (pid_t pid : pids_)
    if (pid > 0) ::kill(pid, SIGTERM);
  wait_all(std::chrono::milliseconds(5000));
  for (pid_t& pid : pids_)
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      pid = 0;
    }
}

}  // namespace ebs::cluster
