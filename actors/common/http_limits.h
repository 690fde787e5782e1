// Slow clients must not lock out the others (docs/reliability.md, "HTTP servers"): cpp-httplib
// serves each connection on one worker until it closes, and its default pool has 8 workers, so
// eight clients trickling a header line every few seconds held both servers (`serve`,
// `run --http`) before authorisation ever ran. Here every connection gets a thread of its own up
// to kMaxConnectionThreads (beyond that, connections wait in a queue), and reads and writes time
// out after kIoTimeout without progress. Header-only: both servers include it beside httplib.h.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ebs::http_limits {

inline constexpr size_t kMaxConnectionThreads = 256;
inline constexpr std::chrono::seconds kIoTimeout{5};

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
  // each ends after its current request or its read time-out).
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

// Applies the limits above to a server before it listens.
inline void apply(httplib::Server& server) {
  server.set_read_timeout(kIoTimeout);
  server.set_write_timeout(kIoTimeout);
  server.set_keep_alive_timeout(kIoTimeout.count());
  server.new_task_queue = [] { return new ConnectionThreads(kMaxConnectionThreads); };
}

}  // namespace ebs::http_limits
