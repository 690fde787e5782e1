// Slow or greedy clients must not lock out the others (docs/reliability.md, "HTTP servers").
// cpp-httplib serves each connection on one worker until it closes and its default pool has 8
// workers, so eight clients trickling a header line every few seconds held both servers (`serve`,
// `run --http`) before authorisation ever ran. `http_limits::Server` is the cpp-httplib server
// both use, with these limits:
//   - every connection gets a thread of its own, up to `max_connection_threads` at once (then
//     connections wait in a queue); the listen backlog is SOMAXCONN, not cpp-httplib's 5;
//   - a request's head (request line and headers) must be complete within `header_deadline` of
//     the connection's start (or of its first byte, on a kept-alive connection): 408 otherwise,
//     however steadily the client trickles;
//   - a request's head holds at most `max_header_bytes`: 431 otherwise;
//   - one client address holds at most `max_connections_per_address` connections at once (IPv6:
//     one /64): 503 for the next. Loopback clients are exempt unless `limit_loopback`: a reverse
//     proxy on the same host shows every user as 127.0.0.1;
//   - reads and writes time out after `io_timeout` without progress, idle kept-alive
//     connections after `io_timeout` too.
// The limits act before any handler, authorisation included.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace ebs::http_limits {

struct Settings {
  std::chrono::milliseconds header_deadline{10'000};
  size_t max_header_bytes = 64 * 1024;
  size_t max_connections_per_address = 32;
  bool limit_loopback = false;
  std::chrono::milliseconds io_timeout{5'000};
  size_t max_connection_threads = 256;
};

class Server final : public httplib::Server {
 public:
  explicit Server(Settings settings = {});

  // Binds `host:port` (port 0: any free port) with a backlog of SOMAXCONN; the port, or -1.
  int bind(const std::string& host, int port);

  // Serves one connected socket on the calling thread under the same limits, then closes it (the
  // fuzz target feeds requests through a socket pair this way). The server must be bound.
  void serve_connection(socket_t sock) { process_and_close_socket(sock); }

  const Settings& settings() const { return settings_; }
  // Connections being served now (admitted, not yet closed).
  size_t open_connections() const { return open_.load(); }

 private:
  class Admission;
  class ConnectionStream;

  // cpp-httplib calls it on a worker thread for each accepted connection.
  bool process_and_close_socket(socket_t sock) override;
  bool serve(ConnectionStream& stream);
  bool stopping() const;

  Settings settings_;
  std::atomic<size_t> open_{0};
  std::mutex mutex_;
  std::map<std::string, size_t> per_address_;  // the limited addresses' open connections
};

}  // namespace ebs::http_limits
