// A TCP relay on a chosen loopback port to the embedded broker's own port, for `ebs-flow broker
// --port P`: librdkafka's mock cluster (2.0) always listens on a port it picks, so clients
// bootstrap through the relay at 127.0.0.1:P; the cluster's metadata then names the mock broker's
// own address, which clients on the same host reach directly. Bytes pass unchanged both ways.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace ebs::kafka {

class BootstrapRelay {
 public:
  // Listens on host:port (port 0: any free port) and relays every connection to `target`
  // (HOST:PORT). A port in use raises a `failed` Fault naming it.
  BootstrapRelay(const std::string& host, int port, const std::string& target);
  ~BootstrapRelay();
  BootstrapRelay(const BootstrapRelay&) = delete;
  BootstrapRelay& operator=(const BootstrapRelay&) = delete;

  int port() const { return port_; }
  std::string address() const;

 private:
  void serve();

  std::string host_, target_host_;
  int port_ = 0, target_port_ = 0;
  int listener_ = -1;
  int wake_[2] = {-1, -1};  // a pipe that ends serve()
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ebs::kafka
