#include "actors/common/kafka/bootstrap_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "engine/util/fault.h"

namespace ebs::kafka {

namespace {

sockaddr_in loopback_address(const std::string& host, int port, const std::string& place) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) fail(place, "'" + host + "' is not an IPv4 address");
  return address;
}

// Copies what is readable on `from` to `to`; false when `from` closed or failed.
bool pump(int from, int to) {
  char buffer[65536];
  const ssize_t n = ::read(from, buffer, sizeof buffer);
  if (n <= 0) return false;
  for (ssize_t sent = 0; sent < n;) {
    const ssize_t w = ::write(to, buffer + sent, static_cast<size_t>(n - sent));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    sent += w;
  }
  return true;
}

}  // namespace

BootstrapRelay::BootstrapRelay(const std::string& host, int port, const std::string& target) : host_(host) {
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) fail("relay target " + target, "expected HOST:PORT");
  target_host_ = target.substr(0, colon);
  if (target_host_ == "localhost") target_host_ = "127.0.0.1";
  target_port_ = std::stoi(target.substr(colon + 1));
  const std::string place = host + ":" + std::to_string(port);
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) fail(place, std::string("socket: ") + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address = loopback_address(host, port, place);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listener_);
    fail(place, "cannot listen there: " + why);
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  if (::pipe2(wake_, O_CLOEXEC) != 0) fail(place, std::string("pipe: ") + std::strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

BootstrapRelay::~BootstrapRelay() {
  stopping_ = true;
  if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  for (int fd : {listener_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

std::string BootstrapRelay::address() const { return host_ + ":" + std::to_string(port_); }

void BootstrapRelay::serve() {
  std::map<int, int> peer;  // every relayed socket -> the other end of its pair
  while (!stopping_) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    for (const auto& [fd, other] : peer) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in target = loopback_address(target_host_, target_port_, "relay");
        if (upstream >= 0 && ::connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0) {
          peer[client] = upstream;
          peer[upstream] = client;
        } else {
          ::close(client);
          if (upstream >= 0) ::close(upstream);
        }
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      auto it = peer.find(fds[i].fd);
      if (it == peer.end()) continue;  // closed with its pair in this round
      if (!pump(it->first, it->second)) {
        const int a = it->first, b = it->second;
        peer.erase(a);
        peer.erase(b);
        ::close(a);
        ::close(b);
      }
    }
  }
  for (const auto& [fd, other] : peer) ::close(fd);
}

}  // namespace ebs::kafka
