// A webhook peer on loopback for tests (header only): a real HTTP server that takes POSTs on one
// path and records each request's body, headers and the status it was answered with. Its answers
// are configurable: a status (the first n requests another one), a delay (a slow peer), a gate
// that holds every answer until the test releases it (a peer that hangs, or answers one by one).
// Thread-safe; the destructor releases what the gate holds and stops the server cleanly.
// A held answer occupies one of httplib's worker threads (8 by default): past 8 held requests the
// next ones wait in httplib's queue, not yet counted (requests(), wait_for_requests) until some are
// released. Released answers go in no particular order: each held thread takes a release as it wakes.
//
//   RecordingWebhook hook;                                      // 200 to everything
//   RecordingWebhook flaky({.first = 3, .first_status = 500});  // 500 three times, then 200
//   RecordingWebhook gated({.gated = true});  ... gated.release(1);
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ebs::test {

class RecordingWebhook {
 public:
  struct Answers {
    int status = 200;  // every answer's status ...
    size_t first = 0;  // ... except the first `first` requests' (in the order they came):
    int first_status = 200;
    std::chrono::milliseconds delay{0};  // each answer waits this long first
    bool gated = false;                  // each answer waits for release() (or the peer's end)
    std::string body = "{}";             // every answer's body
    std::string content_type = "application/json";
    std::string path = "/hook";  // the path it serves (another answers 404 and is not recorded)
  };
  // One request, recorded when its answer goes back (what the sender may count as delivered).
  struct Received {
    std::string body;
    httplib::Headers headers;
    int status = 0;
    std::string header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    }
  };

  RecordingWebhook() : RecordingWebhook(Answers{}) {}
  explicit RecordingWebhook(Answers answers) : answers_(std::move(answers)) {
    server_.Post(answers_.path, [this](const httplib::Request& req, httplib::Response& res) { answer(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("RecordingWebhook: no port to listen on at 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the server runs would not stop it (cpp-httplib 0.11): wait until it runs.
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~RecordingWebhook() { stop(); }
  RecordingWebhook(const RecordingWebhook&) = delete;
  RecordingWebhook& operator=(const RecordingWebhook&) = delete;

  // Releases every held answer (each goes back as configured) and stops the server; the port is
  // closed after it. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    changed_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return url(answers_.path); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // The gate: lets `n` more answers go (held now, or to come), whichever held ones wake first.
  void release(size_t n) {
    std::lock_guard lock(mutex_);
    released_ += n;
    changed_.notify_all();
  }

  // Requests that came (answered or still held).
  size_t requests() const {
    std::lock_guard lock(mutex_);
    return arrived_;
  }
  // Requests answered, in the order of their answers.
  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const Received& r : received_) out.push_back(r.body);
    return out;
  }
  // The bodies answered with a 2xx status: what the sender was told was delivered.
  std::vector<std::string> delivered() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const Received& r : received_)
      if (r.status / 100 == 2) out.push_back(r.body);
    return out;
  }
  // Whether `n` requests have come within `limit`.
  bool wait_for_requests(size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return arrived_ >= n; });
  }

 private:
  void answer(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(mutex_);
    const size_t index = arrived_++;
    changed_.notify_all();
    if (answers_.delay.count() > 0) changed_.wait_for(lock, answers_.delay, [this] { return stopped_; });
    if (answers_.gated) changed_.wait(lock, [this] { return stopped_ || released_ > 0; });
    if (answers_.gated && released_ > 0) --released_;
    res.status = index < answers_.first ? answers_.first_status : answers_.status;
    res.set_content(answers_.body, answers_.content_type.c_str());
    received_.push_back({req.body, req.headers, res.status});
    changed_.notify_all();
  }

  const Answers answers_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  size_t arrived_ = 0, released_ = 0;
  bool stopped_ = false;
  std::vector<Received> received_;
};

}  // namespace ebs::test
