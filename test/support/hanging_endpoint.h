// An HTTP endpoint on loopback that never answers (header only, tests only): a socket that
// listens and never accepts (the kernel completes the connection into its backlog, no answer
// comes). A webhook sending to it hangs until its time-outs; close() resets the connections
// waiting there, so a request in progress fails at once. wait_for_connection(): a request has
// connected (it waits in the backlog, unanswered).
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace ebs::test {

struct HangingEndpoint {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  HangingEndpoint() {
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~HangingEndpoint() { close(); }
  HangingEndpoint(const HangingEndpoint&) = delete;
  HangingEndpoint& operator=(const HangingEndpoint&) = delete;
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  // A connection waits in the backlog (the listening socket is readable) within `limit`.
  bool wait_for_connection(std::chrono::milliseconds limit) const {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(limit.count())) == 1 && (p.revents & POLLIN);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
};

}  // namespace ebs::test
