#include "actors/common/http_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

namespace ebs::http_limits {

namespace {

using Clock = std::chrono::steady_clock;
// How often a connection waiting for bytes looks whether the server is stopping.
constexpr std::chrono::milliseconds kStopCheck{250};

// A TaskQueue that starts a thread per connection, at most `max` at once; idle, it holds none.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(size_t max) : max_(max) {}

  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    if (active_ >= max_) {
      waiting_.push_back(std::move(fn));
      return;
    }
    ++active_;
    std::thread([this, fn = std::move(fn)]() mutable { serve(std::move(fn)); }).detach();
  }

  // Waits for every connection, running and waiting, to finish (the server closed its socket, so
  // each ends after its current request, or within kStopCheck while it waits for bytes).
  void shutdown() override {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return active_ == 0 && waiting_.empty(); });
  }

 private:
  void serve(std::function<void()> fn) {
    for (;;) {
      fn();
      fn = nullptr;
      std::unique_lock lock(mutex_);
      if (waiting_.empty()) {
        --active_;
        idle_.notify_all();  // with the lock held: the queue outlives this call
        return;
      }
      fn = std::move(waiting_.front());
      waiting_.pop_front();
    }
  }

  size_t max_;
  size_t active_ = 0;
  std::deque<std::function<void()>> waiting_;
  std::mutex mutex_;
  std::condition_variable idle_;
};

// Whether `fd` is ready for `events` within `timeout` (EINTR retried).
bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd, events, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

struct PeerAddress {
  std::string key;  // what the per-address limit counts: the IPv4 address, or an IPv6 /64
  std::string text;
  int port = 0;
  bool loopback = false;
};

std::string ntop(int family, const void* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  return ::inet_ntop(family, addr, text, sizeof text) ? text : "?";
}

PeerAddress describe(const sockaddr_storage& ss) {
  PeerAddress a;
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    a.text = a.key = ntop(AF_INET, &in.sin_addr);
    a.port = ntohs(in.sin_port);
    a.loopback = (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    a.port = ntohs(in6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {  // an IPv4 client of a dual-stack socket
      in_addr v4;
      std::memcpy(&v4, in6.sin6_addr.s6_addr + 12, 4);
      a.text = a.key = ntop(AF_INET, &v4);
      a.loopback = (ntohl(v4.s_addr) >> 24) == 127;
    } else {
      a.text = ntop(AF_INET6, &in6.sin6_addr);
      a.loopback = IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
      in6_addr prefix = in6.sin6_addr;  // one host may hold a whole /64
      std::memset(prefix.s6_addr + 8, 0, 8);
      a.key = ntop(AF_INET6, &prefix) + "/64";
    }
  } else {
    a.text = a.key = "local";
    a.loopback = true;
  }
  return a;
}

PeerAddress peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return describe(sockaddr_storage{});
  return describe(ss);
}

PeerAddress local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return describe(sockaddr_storage{});
  return describe(ss);
}

}  // namespace

// The socket of one connection, for cpp-httplib's request parser. Reads go through a buffer that
// await_head fills first, so the parser only ever sees a head that is already complete.
class Server::ConnectionStream final : public httplib::Stream {
 public:
  enum class Head { complete, closed, late, too_large };

  ConnectionStream(socket_t sock, std::chrono::milliseconds io_timeout) : sock_(sock), io_timeout_(io_timeout) {}

  bool is_readable() const override { return pending() > 0 || wait_for(sock_, POLLIN, io_timeout_); }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, io_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (pending() > 0) {
      size_t n = std::min(size, pending());
      std::memcpy(ptr, buffer_.data() + offset_, n);
      offset_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!wait_for(sock_, POLLIN, io_timeout_)) return -1;
    return receive(ptr, size);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!wait_for(sock_, POLLOUT, io_timeout_)) return -1;
    for (;;) {
      ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    PeerAddress a = peer_of(sock_);
    ip = a.text;
    port = a.port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    PeerAddress a = local_of(sock_);
    ip = a.text;
    port = a.port;
  }
  socket_t socket() const override { return sock_; }

  // Whether a request's first byte arrives within `timeout` (false at once when `stopping`).
  bool await_request(std::chrono::milliseconds timeout, const std::function<bool()>& stopping) const {
    if (pending() > 0) return true;
    const auto until = Clock::now() + timeout;
    while (!stopping()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) return false;
      if (wait_for(sock_, POLLIN, std::min(left, kStopCheck))) return true;
    }
    return false;
  }

  // Reads until the buffer holds a whole request head (up to its blank line), at most
  // `max_bytes` of it, before `deadline`. Bytes after the head stay buffered for the parser.
  Head await_head(Clock::time_point deadline, size_t max_bytes, const std::function<bool()>& stopping) {
    buffer_.erase(0, offset_);
    offset_ = 0;
    size_t scanned = 0;
    for (;;) {
      size_t end = buffer_.find("\r\n\r\n", scanned);
      if (end != std::string::npos) return end + 4 <= max_bytes ? Head::complete : Head::too_large;
      if (buffer_.size() >= max_bytes) return Head::too_large;
      scanned = buffer_.size() < 3 ? 0 : buffer_.size() - 3;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Head::late;
      if (stopping()) return Head::closed;
      if (!wait_for(sock_, POLLIN, std::min(left, kStopCheck))) continue;
      char chunk[16384];
      ssize_t n = receive(chunk, std::min(sizeof chunk, max_bytes + 4 - buffer_.size()));
      if (n <= 0) return Head::closed;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Answers with `status` and a JSON message, then closes gracefully: the client is still
  // sending, and closing with its bytes unread would reset the connection before it reads this.
  void refuse(int status, const char* reason, const std::string& message) {
    const std::string body = nlohmann::json{{"error", message}}.dump();
    std::string text = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" +
                       "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n" + (status == 503 ? "Retry-After: 1\r\n" : "") + "\r\n" + body;
    for (size_t sent = 0; sent < text.size();) {
      ssize_t n = write(text.data() + sent, text.size() - sent);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(sock_, SHUT_WR);
    // Drain what the client still sends, bounded in time and bytes.
    const auto until = Clock::now() + std::chrono::milliseconds(500);
    char sink[16384];
    for (size_t drained = 0; drained < (1u << 20);) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0 || !wait_for(sock_, POLLIN, left)) return;
      ssize_t n = receive(sink, sizeof sink);
      if (n <= 0) return;
      drained += static_cast<size_t>(n);
    }
  }

 private:
  size_t pending() const { return buffer_.size() - offset_; }

  ssize_t receive(char* ptr, size_t size) {
    for (;;) {
      ssize_t n = ::recv(sock_, ptr, size, 0);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  socket_t sock_;
  std::chrono::milliseconds io_timeout_;
  std::string buffer_;
  size_t offset_ = 0;
};

// One connection's place in the per-address count; refused when its address holds enough.
class Server::Admission {
 public:
  Admission(Server& server, const PeerAddress& peer) : server_(server), key_(peer.key) {
    ++server_.open_;
    if (peer.loopback && !server_.settings_.limit_loopback) {
      admitted_ = true;
      return;
    }
    std::lock_guard lock(server_.mutex_);
    size_t& n = server_.per_address_[key_];
    admitted_ = n < server_.settings_.max_connections_per_address;
    if (admitted_) {
      ++n;
      counted_ = true;
    } else if (n == 0) {
      server_.per_address_.erase(key_);
    }
  }
  ~Admission() {
    if (counted_) {
      std::lock_guard lock(server_.mutex_);
      auto it = server_.per_address_.find(key_);
      if (--it->second == 0) server_.per_address_.erase(it);
    }
    --server_.open_;
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  bool admitted() const { return admitted_; }

 private:
  Server& server_;
  std::string key_;
  bool admitted_ = false;
  bool counted_ = false;
};

Server::Server(Settings settings) : settings_(settings) {
  set_read_timeout(settings_.io_timeout);
  set_write_timeout(settings_.io_timeout);
  set_keep_alive_timeout(std::max<time_t>(1, std::chrono::duration_cast<std::chrono::seconds>(settings_.io_timeout).count()));
  const size_t threads = settings_.max_connection_threads;
  new_task_queue = [threads] { return new ConnectionThreads(threads); };
}

int Server::bind(const std::string& host, int port) {
  int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  // cpp-httplib listens with a backlog of 5 (built into Debian's library); listen() again on
  // the same socket only changes the backlog, so bursts of connections are not refused.
  if (bound >= 0) ::listen(svr_sock_, SOMAXCONN);
  return bound;
}

bool Server::stopping() const { return svr_sock_ == INVALID_SOCKET; }

bool Server::process_and_close_socket(socket_t sock) {
  const PeerAddress peer = peer_of(sock);
  bool ok = false;
  {
    ConnectionStream stream(sock, settings_.io_timeout);
    Admission admission(*this, peer);
    if (admission.admitted())
      ok = serve(stream);
    else
      stream.refuse(503, "Service Unavailable",
                    "too many connections from " + peer.text + " (at most " +
                        std::to_string(settings_.max_connections_per_address) + " at once)");
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

// cpp-httplib's keep-alive loop, with the head of each request read under the limits first.
bool Server::serve(ConnectionStream& stream) {
  const std::function<bool()> is_stopping = [this] { return stopping(); };
  auto deadline = Clock::now() + settings_.header_deadline;
  for (size_t left = keep_alive_max_count_; left > 0 && !stopping(); --left) {
    if (left != keep_alive_max_count_) {  // a kept-alive connection: its next request's clock starts with its first byte
      if (!stream.await_request(std::chrono::seconds(keep_alive_timeout_sec_), is_stopping)) return true;
      deadline = Clock::now() + settings_.header_deadline;
    }
    switch (stream.await_head(deadline, settings_.max_header_bytes, is_stopping)) {
      case ConnectionStream::Head::complete:
        break;
      case ConnectionStream::Head::closed:
        return false;
      case ConnectionStream::Head::late:
        stream.refuse(408, "Request Timeout",
                      "the request's headers did not arrive within " +
                          std::to_string(settings_.header_deadline.count()) + " ms");
        return false;
      case ConnectionStream::Head::too_large:
        stream.refuse(431, "Request Header Fields Too Large",
                      "the request's headers are larger than " + std::to_string(settings_.max_header_bytes) + " bytes");
        return false;
    }
    bool connection_closed = false;
    if (!process_request(stream, left == 1, connection_closed, nullptr)) return false;
    if (connection_closed) return true;
  }
  return true;
}

}  // namespace ebs::http_limits
