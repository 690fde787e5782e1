// Where a user's filter sends the alerts it passes (docs/filters.md, "Outputs"): its own Kafka
// topic (one JSON message per alert), a webhook (a POST of the same JSON) or a Slack incoming
// webhook ({"text": one line}). Each output has its own bounded queue and its own thread, so an
// output that hangs or refuses never slows the stream or the other filters: the `filters` actor
// only offers messages, and reads failure() at each batch to pause the filter with the reason.
//   - a full queue (the output does not keep up) is a failure;
//   - above the owner's alerts/s limit, messages are dropped and counted (rate_limited()), not
//     queued: the limit protects the service, it does not pause the filter;
//   - a delivery that fails (a webhook's error status or time-out, a topic that rejects) is a
//     failure; nothing more is delivered after it;
//   - a message that waited longer than max_hold (`output_max_hold_s`) when its delivery would
//     start is a failure: an output slow enough for that holds its batches' acknowledgements, and
//     a Kafka source's committed offsets, too long.
// A message holds the acknowledgement tokens of the batch its alert came from (engine/runtime/ack.h)
// until it is delivered, so that no offset passes an alert whose message was not delivered. A
// failed output gives up on its messages, counted (undelivered()), and so does one that refuses a
// message once failed: each becomes a dead letter with the message's bytes (settings'
// `dead_letters`, the `filters` actor's UndeliveredLetters) whose tokens are released once the
// dead-letter sink wrote it, so that a paused output holds no batch for good. Messages still
// queued when the output is stopped without having failed (abandon_queued(), the destructor) are
// abandoned, not dead-lettered: their batches are never acknowledged, and a restart reads them
// again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/common/filter_registry/filter_registry.h"
#include "engine/model/record.h"
#include "engine/runtime/ack.h"

namespace ebs::filter_registry {

// The acknowledgement tokens of one batch, shared by every message made from it: one allocation per
// batch, one reference per message.
using HeldAcks = std::shared_ptr<const std::vector<AckRef>>;

// An output's target as logs, pause reasons and dead letters show it: a webhook's URL without its
// user information, query and fragment, with every path segment after the first that has 16
// characters or more shown as `...` (a token: Discord's /api/webhooks/ID/TOKEN, ...), a Slack
// URL without its last path segment (the secret of an incoming webhook,
// https://hooks.slack.com/services/T.../B.../SECRET); a topic as it is.
std::string public_target(const Output& output);

// The messages a `filters` actor's outputs gave up on, on their way to the dead letters
// (docs/filters.md, "Undelivered messages"). The outputs' threads put letters in, the actor's
// thread takes them out (at each batch and tick) and emits them on its dead-letter port. Bounded
// in bytes: a letter's bytes count from put() until the last reference to its record is dropped
// (the dead-letter sink wrote it), so neither this box nor the letters on their way to the sink
// grow past the bound, whatever the sink's pace; a letter that finds no room is dropped (put()
// answers false, the caller counts it) and never blocks its output.
class UndeliveredLetters {
 public:
  explicit UndeliveredLetters(size_t byte_limit);
  // Letters never taken (put after the actor's last take, or left at a teardown) were not written:
  // their tokens are abandoned, and a restart reads their batches again.
  ~UndeliveredLetters();
  UndeliveredLetters(const UndeliveredLetters&) = delete;
  UndeliveredLetters& operator=(const UndeliveredLetters&) = delete;
  struct Letter {
    std::shared_ptr<DeadLetter> record;
    HeldAcks acks;  // the message's batch's tokens: released once the sink let go of the letter
  };
  // From any thread. `original`: the message's bytes as sent (or as they would have been).
  bool put(std::string original, std::string original_format, std::string place, std::string reason, HeldAcks acks);
  std::vector<Letter> take();
  size_t bytes() const;  // of the letters put and not yet let go by the sink
  size_t byte_limit() const;
  uint64_t dropped() const;

 private:
  struct Budget {
    explicit Budget(size_t limit) : limit(limit) {}
    const size_t limit;
    std::atomic<size_t> bytes{0};
  };
  std::shared_ptr<Budget> budget_;  // shared with the letters' records, which give their bytes back
  std::atomic<uint64_t> dropped_{0};
  std::mutex mutex_;
  std::vector<Letter> letters_;
};

struct OutputSettings {
  size_t queue_capacity = 10000;                            // messages waiting
  double max_per_second = 50;                               // the owner's limit
  std::chrono::milliseconds timeout{5000};                  // per webhook request, per Kafka flush
  std::chrono::milliseconds max_hold{60000};                // the longest a message may wait for its delivery
  std::map<std::string, std::string> kafka_properties;      // bootstrap.servers, ...
  // A Confluent-compatible schema registry: avro-confluent topics register the alert schema there
  // as <topic>-value (once, from the output's thread) and frame each message with its id.
  std::string schema_registry;
  // The run's acknowledgements (ActorContext::acks): once torn down (a fault, a drain past its
  // time), a drain stops waiting, the request in progress is cut, and nothing more is sent.
  std::shared_ptr<const AckScope> scope;
  // Counts every message delivered (ActorContext::side_work): the run's drain clock sees an output
  // that still delivers at the end of the stream as progress. May be null.
  std::shared_ptr<std::atomic<uint64_t>> side_work;
  // Where the messages the output gives up on go as dead letters (failed, refused once failed, a
  // full queue's). Null: they are only counted and let go.
  std::shared_ptr<UndeliveredLetters> dead_letters;
};

class OutputQueue {
 public:
  OutputQueue(Output output, OutputSettings settings);
  // Stops the thread (after the delivery in progress); what is still queued is not delivered, and
  // its tokens are abandoned (counted in abandoned()).
  ~OutputQueue();
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  enum class Offer { queued, rate_limited, refused, torn_down };
  // `json`: the message (Kafka, webhook; for an avro-confluent topic the Avro datum, framed by the
  // output's thread); `line`: the Slack text; `acks`: the tokens of the alert's batch, held until
  // the message is delivered or the output fails. Never blocks. `refused` once the output has failed
  // (or its queue is full, which fails it); `torn_down` once the run is (nothing more is sent, the
  // output has not failed); a message not queued holds nothing. `about`: the filter and alert the
  // message is of ("filter 3 v2 (alice/bright), alert 123 (ZTF18abc)"), named in its dead letter.
  // A message refused once the output failed is dead-lettered here (refused() counts them).
  Offer offer(std::string json, std::string line, std::string key, HeldAcks acks = {}, std::string about = {});

  // The owner's alerts/s limit changed (read at a switch point; the actor's thread, as offer()).
  void set_max_per_second(double limit);

  // Why the output failed, once it has.
  std::optional<std::string> failure() const;
  uint64_t delivered() const { return delivered_; }
  uint64_t rate_limited() const { return rate_limited_; }
  // Messages queued (or being delivered) when the output failed: let go, their tokens released. A
  // Kafka delivery that failed in part counts the messages whose delivery was confirmed as
  // delivered, the rest here (some may still have reached the topic: not confirmed delivered).
  uint64_t undelivered() const { return undelivered_; }
  // Messages refused because the output had failed (given up on at once).
  uint64_t refused() const { return refused_; }
  // Of undelivered() and refused(), those written as dead letters, and those the dead-letter path
  // had no room for (dropped: counted, their tokens released).
  uint64_t dead_lettered() const { return dead_lettered_; }
  uint64_t dead_letters_dropped() const { return dead_letters_dropped_; }
  // Messages still queued when the output was stopped without failing: their tokens abandoned.
  uint64_t abandoned() const { return abandoned_; }

  // Waits until everything queued is delivered or the output failed, as long as a delivery
  // completes at least every `quiet` (a slow output that still delivers is waited for; each
  // delivery is bounded by the output's time-out) and the run is not torn down. True when the
  // queue is empty and nothing failed.
  bool drain(std::chrono::milliseconds quiet);
  // Abandons what is still queued (not the delivery in progress): their batches are never
  // acknowledged. Returns how many; counted in abandoned().
  uint64_t abandon_queued();

  const Output& output() const { return output_; }
  std::string describe() const;  // "kafka topic T", "webhook URL" (public_target)

 private:
  struct Message {
    std::string body, key;
    HeldAcks acks;  // released when the message is let go: delivered, or its dead letter written
    std::chrono::steady_clock::time_point queued_at;
    std::string about;  // the filter and alert, for its dead letter
  };
  void run();
  // Adds the tokens the time since the last refill earned at the current limit (at most a
  // second's worth).
  void refill();
  // `in_flight`: the messages of the failed delivery that were not delivered.
  void fail_with(std::string reason, std::deque<Message>& in_flight);
  // Writes `messages` as dead letters (outside the lock), counted; what finds no room is let go.
  void give_up(std::deque<Message>& messages, const std::string& reason);
  bool torn_down() const { return settings_.scope && settings_.scope->torn_down(); }
  // The run was torn down: `batch` (taken, not delivered) and what is queued are abandoned, nothing
  // more is sent, and the output has not failed (its filter is not paused).
  void cut(std::deque<Message>& batch);
  // Why `batch`'s oldest message may not be delivered any more (it waited longer than max_hold).
  std::optional<std::string> held_too_long(const std::deque<Message>& batch) const;
  void count_delivered(uint64_t n);
  // Delivers `batch`, taking each message out once delivered: what is left was not.
  std::optional<std::string> deliver(std::deque<Message>& batch);

  Output output_;
  OutputSettings settings_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Message> queue_;
  bool stopping_ = false, busy_ = false;
  bool cut_ = false;  // the run was torn down during a delivery: nothing more is sent
  std::optional<std::string> failure_;
  std::atomic<uint64_t> delivered_{0}, rate_limited_{0}, undelivered_{0}, abandoned_{0}, refused_{0};
  std::atomic<uint64_t> dead_lettered_{0}, dead_letters_dropped_{0};
  std::string frame_header_;  // avro-confluent, once registered (under mutex_): a dead letter's frame
  // Token bucket for max_per_second (the actor's thread only).
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_;
  struct Transport;
  std::unique_ptr<Transport> transport_;
  std::thread worker_;
};

}  // namespace ebs::filter_registry
