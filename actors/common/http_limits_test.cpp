#include "actors/common/http_limits.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

using namespace ebs;

namespace {

// A real limited server on a free loopback port answering "ok" at /, serving from its own thread.
struct RunningServer {
  http_limits::Server server;
  int port;
  std::thread thread;
  explicit RunningServer(http_limits::Settings settings = {})
      : server(settings), port(bind_with_route()), thread([this] { server.listen_after_bind(); }) {
    for (int i = 0; i < 400 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  int bind_with_route() {
    server.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    return server.bind("127.0.0.1", 0);
  }
  // Waits (bounded) until the server holds `n` connections.
  void await_open_connections(size_t n) const {
    for (int i = 0; i < 2000 && server.open_connections() != n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(server.open_connections() == n);
  }
};

// A raw client connection: what a browser, a proxy or an attacker sends, byte for byte.
struct RawClient {
  int fd;
  explicit RawClient(int port) : fd(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    timeval limit{20, 0};  // a broken server fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~RawClient() { ::close(fd); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool send(const std::string& bytes) const {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Whether the server has answered or closed (without waiting).
  bool answered() const {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  // Everything the server sends until it closes.
  std::string answer() const {
    std::string all;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return all;
      all.append(buf, static_cast<size_t>(n));
    }
  }
};

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

}  // namespace

TEST_CASE("a request whose headers keep trickling past the deadline gets 408") {
  http_limits::Settings settings;
  settings.header_deadline = std::chrono::milliseconds(400);
  RunningServer s(settings);
  RawClient slow(s.port);
  REQUIRE(slow.send("GET / HTTP/1.1\r\nHost: x\r\n"));
  // A header line every 50 ms: each read makes progress, so only the total deadline can end it.
  for (int i = 0; i < 400 && !slow.answered(); ++i) {
    slow.send("X-Slow: 1\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string answer = slow.answer();
  CHECK(status_line(answer) == "HTTP/1.1 408 Request Timeout");
  CHECK(answer.find(R"({"error":"the request's headers did not arrive within 400 ms"})") != std::string::npos);

  RawClient prompt(s.port);  // a client that sends its request at once is served
  REQUIRE(prompt.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(status_line(prompt.answer()) == "HTTP/1.1 200 OK");
}

TEST_CASE("headers beyond 64 KiB get 431; 60 KiB of them are served") {
  RunningServer s;
  const std::string line = "X-Pad: " + std::string(1000, 'p') + "\r\n";
  auto request = [&](int lines) {
    std::string r = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    for (int i = 0; i < lines; ++i) r += line;
    return r + "\r\n";
  };
  RawClient big(s.port);
  REQUIRE(big.send(request(70)));
  std::string answer = big.answer();
  CHECK(status_line(answer) == "HTTP/1.1 431 Request Header Fields Too Large");
  CHECK(answer.find("larger than 65536 bytes") != std::string::npos);

  RawClient fits(s.port);
  REQUIRE(fits.send(request(60)));
  CHECK(status_line(fits.answer()) == "HTTP/1.1 200 OK");
}

TEST_CASE("one address holds at most max_connections_per_address connections; loopback only with limit_loopback") {
  http_limits::Settings settings;
  settings.max_connections_per_address = 4;
  settings.limit_loopback = true;
  RunningServer s(settings);
  std::vector<std::unique_ptr<RawClient>> holders;
  for (int i = 0; i < 4; ++i) holders.push_back(std::make_unique<RawClient>(s.port));  // connected, silent
  s.await_open_connections(4);

  RawClient fifth(s.port);
  REQUIRE(fifth.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string answer = fifth.answer();
  CHECK(status_line(answer) == "HTTP/1.1 503 Service Unavailable");
  CHECK(answer.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(answer.find("too many connections from 127.0.0.1 (at most 4 at once)") != std::string::npos);

  holders.pop_back();  // one leaves: the next is served
  s.await_open_connections(3);
  RawClient next(s.port);
  REQUIRE(next.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(status_line(next.answer()) == "HTTP/1.1 200 OK");
}

TEST_CASE("loopback clients are exempt from the per-address limit by default") {
  http_limits::Settings settings;
  settings.max_connections_per_address = 4;
  RunningServer s(settings);
  std::vector<std::unique_ptr<RawClient>> holders;
  for (int i = 0; i < 8; ++i) holders.push_back(std::make_unique<RawClient>(s.port));
  s.await_open_connections(8);
  RawClient ninth(s.port);
  REQUIRE(ninth.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(status_line(ninth.answer()) == "HTTP/1.1 200 OK");
}

TEST_CASE("a kept-alive connection serves several requests, a pipelined pair included") {
  RunningServer s;
  httplib::Client c("127.0.0.1", s.port);
  c.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("/");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ok");
  }
  RawClient pipelined(s.port);
  REQUIRE(pipelined.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string both = pipelined.answer();
  CHECK(both.find("HTTP/1.1 200 OK") == 0);
  CHECK(both.find("HTTP/1.1 200 OK", 10) != std::string::npos);
}
