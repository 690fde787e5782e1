#include "engine/cluster/coordinator_requests.h"

#include <unistd.h>

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <optional>
#include <set>

#include "engine/cluster/messages.h"
#include "engine/util/fault.h"

namespace ebs::cluster {

struct CoordinatorRequests::Line {
  caf::actor_system* system = nullptr;
  caf::actor server;
  std::string node;
  std::atomic<uint64_t> attempt{kFirstEpoch};
};

namespace {

// How long a node's request waits for a coordinator that is there and does not answer.
constexpr std::chrono::seconds kRequestTimeout{10};

// The coordinator's request server: one request at a time, answered by the service's handler.
struct ServerContext {
  std::map<std::string, CoordinatorRequests::Handler> handlers;
  const Workflow* workflow = nullptr;
  std::string run;
};

// What the server refuses, as the coordinator tells it ("Failures", docs/cluster.md): requests of
// an attempt torn down by a restart, and every request of a node declared lost, which may come back
// (SIGCONT, a healed network) with its instances still running.
struct Fencing {
  uint64_t attempt = kFirstEpoch;
  std::set<caf::node_id> lost;
};

caf::behavior request_server(caf::event_based_actor* self, std::shared_ptr<const ServerContext> context) {
  auto fencing = std::make_shared<Fencing>();
  // Only the coordinator's own process fences: a node (lost or not) holds the server's handle too.
  auto from_here = [self] { return self->current_sender() && self->current_sender()->node() == self->node(); };
  return {
      [fencing, from_here](fence_atom, const caf::node_id& lost) {
        if (from_here()) fencing->lost.insert(lost);
      },
      [fencing, from_here](restart_atom, uint64_t attempt) {
        if (from_here()) fencing->attempt = std::max(fencing->attempt, attempt);
      },
      [self, context, fencing](service_atom, const std::string& service, uint64_t attempt, const std::string& request) {
        if (!self->current_sender()) return;  // nobody to answer
        const caf::actor asker = caf::actor_cast<caf::actor>(self->current_sender());
        auto answer = [&](bool ok, std::string text) {
          self->send(asker, service_answer_atom::value, ok, std::move(text));
        };
        if (fencing->lost.count(asker.node()))
          return answer(false, "refused: the coordinator declared this node lost (fenced)");
        if (attempt != fencing->attempt)
          return answer(false, "refused: a request of attempt " + std::to_string(attempt) + ", the run is at attempt " +
                                   std::to_string(fencing->attempt) + " (it restarted)");
        auto handler = context->handlers.find(service);
        if (handler == context->handlers.end()) return answer(false, "the coordinator serves no '" + service + "' requests");
        try {
          answer(true, handler->second(*context->workflow, context->run + "/attempt " + std::to_string(attempt), attempt,
                                       request));
        } catch (const Fault& f) {
          answer(false, f.place() + ": " + f.message());
        } catch (const std::exception& e) {
          answer(false, std::string(e.what()));
        }
      },
  };
}

}  // namespace

caf::actor CoordinatorRequests::spawn_server(caf::actor_system& system, const Workflow& workflow) const {
  // This coordinator's runs: its process and the moment it started serving, so that a later run on
  // the same store (a new process, or a new run) never shares what this one agreed on.
  const std::string run = std::to_string(::getpid()) + "/" +
                          std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  // On the scheduler, not detached: a detached actor's thread waits at the end of the run until the
  // actor object is destroyed, and something kept a reference to it after it had been sent to the
  // nodes (not found which), so the coordinator hung in the actor system's end (cluster_run_test's
  // shipping case, every time). A scheduled actor's end does not wait for its destruction. A
  // function with arguments, not a capturing lambda without: CAF 0.17 calls the latter through a
  // null pointer to its empty argument tuple (UBSan: reference binding to null pointer).
  return system.spawn(request_server, std::make_shared<const ServerContext>(ServerContext{handlers_, &workflow, run}));
}

bool CoordinatorRequests::attached() const {
  std::lock_guard lock(mutex_);
  return line_ != nullptr;
}

std::string CoordinatorRequests::node_name() const {
  std::lock_guard lock(mutex_);
  return line_ ? line_->node : std::string();
}

uint64_t CoordinatorRequests::attempt() const {
  std::lock_guard lock(mutex_);
  return line_ ? line_->attempt.load() : 0;
}

std::string CoordinatorRequests::ask(const std::string& service, const std::string& request) const {
  std::shared_ptr<Line> line;
  {
    std::lock_guard lock(mutex_);
    line = line_;
  }
  if (!line) fail("cluster", "'" + service + "': this process is not a node with a run of its coordinator");
  // A blocking actor of its own: the answer reaches its mailbox from the middleman's thread, so it
  // comes even when the calling instance holds the node's only scheduler thread.
  caf::scoped_actor self(*line->system);
  std::optional<std::string> answer;
  std::string problem;
  // A request to a coordinator whose connection was lost is dropped without an error (CAF 0.17), so
  // the asker monitors the server: the connection's loss ends the proxy, whose down message ends the
  // wait at once (the node stops then: "Failures", docs/cluster.md), as does a server that is gone
  // already. The time-out is for a coordinator that is there and does not answer. One ask per
  // actor: the only answer its mailbox gets is this request's.
  self->monitor(line->server);
  self->send(line->server, service_atom::value, service, line->attempt.load(), request);
  const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
  for (bool waiting = true; waiting;) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      problem = "no answer from the coordinator within " + std::to_string(kRequestTimeout.count()) + " s";
      break;
    }
    self->receive(
        [&](service_answer_atom, bool ok, std::string& text) {
          if (ok) answer = std::move(text);
          else problem = std::move(text);
          waiting = false;
        },
        [&](caf::down_msg& down) {
          problem = "the coordinator was lost (" + line->system->render(down.reason) + ")";
          waiting = false;
        },
        caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >> [] {});
  }
  self->demonitor(line->server);
  if (!answer) fail("cluster", "'" + service + "' request to the coordinator: " + problem);
  return *answer;
}

void CoordinatorRequests::attach(caf::actor_system& system, const caf::actor& server, const std::string& node,
                                 uint64_t attempt) {
  auto line = std::make_shared<Line>();
  line->system = &system;
  line->server = server;
  line->node = node;
  line->attempt = attempt;
  std::lock_guard lock(mutex_);
  line_ = std::move(line);
}

void CoordinatorRequests::fence_node(caf::blocking_actor& coordinator, const caf::actor& server, const caf::node_id& lost) {
  coordinator.send(server, fence_atom::value, lost);
}

void CoordinatorRequests::begin_attempt(caf::blocking_actor& coordinator, const caf::actor& server, uint64_t attempt) {
  coordinator.send(server, restart_atom::value, attempt);
}

void CoordinatorRequests::set_attempt(uint64_t attempt) {
  std::lock_guard lock(mutex_);
  if (line_) line_->attempt = attempt;
}

void CoordinatorRequests::detach() {
  std::lock_guard lock(mutex_);
  line_.reset();
}

}  // namespace ebs::cluster
