#include "actors/common/filter_registry/filter_outputs.h"

#include <curl/curl.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "actors/common/avro/alert_avro.h"
#include "actors/common/avro/schema_registration.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/replay.h"
#include "engine/time/clock.h"
#include "engine/util/url_display.h"

namespace ebs::filter_registry {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t keep_body(char* data, size_t size, size_t count, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() < 300) body->append(data, std::min(size * count, 300 - body->size()));
  return size * count;
}

// libcurl's progress callback: a request in progress is cut once the run is torn down.
int abort_when_torn_down(void* scope, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return scope && static_cast<const AckScope*>(scope)->torn_down() ? 1 : 0;
}

constexpr size_t kTokenLikeSegment = 16;  // a URL path segment this long may be a secret: not shown
constexpr size_t kMessagesPerDelivery = 500;  // a Kafka output publishes this many, then waits for reports
// A Kafka output waits for its delivery reports in slices this long, so that a teardown is seen soon.
constexpr std::chrono::milliseconds kReportSlice{50};

}  // namespace

std::string public_target(const Output& output) {
  if (output.kind == Output::Kind::kafka) return output.target;
  std::string url = url_without_credentials(output.target, "?...");
  const size_t scheme = url.find("://");
  const size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  // Path segments after the first that are long enough to be a token (Discord's
  // /api/webhooks/ID/TOKEN, Teams', a service's /hooks/SECRET): hidden, whatever the service.
  if (const size_t first = url.find('/', host); first != std::string::npos) {
    const size_t query = url.find('?', first);
    const size_t end = query == std::string::npos ? url.size() : query;
    std::string path;
    size_t at = url.find('/', first + 1);
    path = url.substr(first, (at == std::string::npos ? end : std::min(at, end)) - first);
    while (at != std::string::npos && at < end) {
      const size_t next = std::min(url.find('/', at + 1), end);
      const std::string segment = url.substr(at + 1, next - at - 1);
      path += "/" + (segment.size() >= kTokenLikeSegment ? std::string("...") : segment);
      at = next < end ? next : std::string::npos;
    }
    url = url.substr(0, first) + path + url.substr(end);
  }
  if (output.kind == Output::Kind::slack) {
    const size_t last = url.find_last_of('/');
    const size_t path_start = url.find('/', host);
    if (last != std::string::npos && path_start != std::string::npos && last >= path_start && last + 1 < url.size())
      url = url.substr(0, last + 1) + "...";
  }
  return url;
}

UndeliveredLetters::UndeliveredLetters(size_t byte_limit) : budget_(std::make_shared<Budget>(byte_limit)) {}

UndeliveredLetters::~UndeliveredLetters() {
  for (const Letter& letter : letters_)
    if (letter.acks)
      for (const AckRef& token : *letter.acks)
        if (token) token->abandon();
}

bool UndeliveredLetters::put(std::string original, std::string original_format, std::string place, std::string reason,
                             HeldAcks acks) {
  const size_t size = sizeof(DeadLetter) + original.size() + place.size() + reason.size();
  // Reserved before the letter exists, so that threads putting at once never pass the bound together.
  size_t held = budget_->bytes.load();
  do {
    if (held + size > budget_->limit) {
      ++dropped_;
      return false;
    }
  } while (!budget_->bytes.compare_exchange_weak(held, held + size));
  // The record gives its bytes back when its last holder (the dead-letter sink) lets go of it.
  std::shared_ptr<DeadLetter> record(new DeadLetter, [budget = budget_, size](DeadLetter* d) {
    delete d;
    budget->bytes -= size;
  });
  record->kind = "undelivered";
  record->original = std::move(original);
  record->original_format = std::move(original_format);
  record->place = std::move(place);
  record->reason = std::move(reason);
  record->mjd_tai = time::now_mjd_tai();
  std::lock_guard lock(mutex_);
  letters_.push_back({std::move(record), std::move(acks)});
  return true;
}

std::vector<UndeliveredLetters::Letter> UndeliveredLetters::take() {
  std::vector<Letter> out;
  std::lock_guard lock(mutex_);
  out.swap(letters_);
  return out;
}

size_t UndeliveredLetters::bytes() const { return budget_->bytes.load(); }
size_t UndeliveredLetters::byte_limit() const { return budget_->limit; }
uint64_t UndeliveredLetters::dropped() const { return dropped_.load(); }

// The connection of one output, used by its thread only.
struct OutputQueue::Transport {
  std::unique_ptr<kafka::Publisher> publisher;
  std::string frame_header;  // avro-confluent: magic byte 0 and the schema id (big-endian), once registered
  uint64_t next_tag = 1;     // each Kafka message's own tag: its delivery report names it
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
};

OutputQueue::OutputQueue(Output output, OutputSettings settings)
    : output_(std::move(output)), settings_(std::move(settings)), tokens_(settings_.max_per_second),
      refilled_(std::chrono::steady_clock::now()), transport_(std::make_unique<Transport>()) {
  worker_ = std::thread([this] { run(); });
}

OutputQueue::~OutputQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  abandon_queued();
}

uint64_t OutputQueue::abandon_queued() {
  std::deque<Message> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
    idle_.notify_all();
  }
  for (const Message& m : left)
    if (m.acks)
      for (const AckRef& token : *m.acks)
        if (token) token->abandon();
  abandoned_ += left.size();
  return left.size();  // the tokens are let go here, outside the lock: abandoned
}

std::string OutputQueue::describe() const {
  return output_.kind == Output::Kind::kafka ? "kafka topic " + output_.target
                                             : std::string(to_string(output_.kind)) + " " + public_target(output_);
}

void OutputQueue::give_up(std::deque<Message>& messages, const std::string& reason) {
  if (messages.empty()) return;
  std::string header;
  {
    std::lock_guard lock(mutex_);
    header = frame_header_;
  }
  for (Message& m : messages) {
    // The bytes the output sends (or would have sent): a JSON text, an Avro container, or an
    // avro-confluent frame (a bare datum when the schema was never registered: no frame exists).
    std::string format = output_.format == "avro" ? "avro" : output_.format == "avro-confluent" && header.empty() ? "avro-datum" : "bytes";
    std::string original = output_.format == "avro-confluent" ? header + m.body : std::move(m.body);
    // A Kafka message's key (the object id) is kept in the place, for `ebs-flow replay` to send it with.
    std::string place = describe() + ": " + (m.about.empty() ? "a message" : m.about);
    if (output_.kind == Output::Kind::kafka && !m.key.empty()) place = kafka::place_with_key(std::move(place), m.key);
    const bool kept = settings_.dead_letters && settings_.dead_letters->put(std::move(original), std::move(format),
                                                                            std::move(place), reason, std::move(m.acks));
    ++(kept ? dead_lettered_ : dead_letters_dropped_);
  }
  // A message that found no room (counted as dropped, a loss) let go of its tokens in put(), which
  // took them: released there. Without a box they are released here.
  messages.clear();
}

void OutputQueue::refill() {
  auto now = std::chrono::steady_clock::now();
  tokens_ = std::min(settings_.max_per_second,
                     tokens_ + settings_.max_per_second * std::chrono::duration<double>(now - refilled_).count());
  refilled_ = now;
}

void OutputQueue::set_max_per_second(double limit) {
  refill();  // the time until now was under the old limit: credited at its rate, not the new one's
  settings_.max_per_second = limit;
  tokens_ = std::min(tokens_, limit);  // no burst above the new limit
}

OutputQueue::Offer OutputQueue::offer(std::string json, std::string line, std::string key, HeldAcks acks,
                                      std::string about) {
  refill();
  auto message = [&] {  // what the output sends
    return Message{output_.kind == Output::Kind::slack ? nlohmann::json{{"text", line}}.dump() : std::move(json),
                   std::move(key), std::move(acks), std::chrono::steady_clock::now(), std::move(about)};
  };
  std::deque<Message> dropped;  // a full queue's messages, dead-lettered outside the lock
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    if (cut_ || torn_down()) return Offer::torn_down;
    // The owner's limit first, failed or not: a failed output's refused messages use its credit
    // too (above it they are rate-limited, not letters), so its letters come at most at that rate.
    if (tokens_ < 1) {
      ++rate_limited_;
      return Offer::rate_limited;
    }
    tokens_ -= 1;
    if (!failure_ && queue_.size() >= settings_.queue_capacity) {
      failure_ = describe() + " does not keep up: " + std::to_string(queue_.size()) + " messages waiting (the queue's bound)";
      undelivered_ += queue_.size();
      dropped.swap(queue_);
      idle_.notify_all();
    }
    if (!failure_) {
      queue_.push_back(message());
      wake_.notify_one();
      return Offer::queued;
    }
    reason = *failure_;
  }
  give_up(dropped, reason);
  // Refused: given up on at once, as the output's own messages were.
  ++refused_;
  std::deque<Message> refused;
  refused.push_back(message());
  give_up(refused, "refused: the output had failed: " + reason);
  return Offer::refused;
}

std::optional<std::string> OutputQueue::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

bool OutputQueue::drain(std::chrono::milliseconds quiet) {
  std::unique_lock lock(mutex_);
  auto last_progress = std::chrono::steady_clock::now();
  uint64_t seen = delivered_;
  // In short slices, so that a teardown is seen at once (as engine/runtime/teardown.h waits). A
  // failed output is waited for until its thread has dead-lettered what it gave up on (busy_).
  while (!cut_ && (!queue_.empty() || busy_) && !torn_down()) {
    const auto now = std::chrono::steady_clock::now();
    if (delivered_ != seen) {
      seen = delivered_;
      last_progress = now;
    } else if (now - last_progress >= quiet) {
      break;
    }
    idle_.wait_for(lock, std::chrono::milliseconds(20));
  }
  return !failure_ && !cut_ && queue_.empty() && !busy_;
}

void OutputQueue::fail_with(std::string reason, std::deque<Message>& in_flight) {
  std::deque<Message> dropped;  // dead-lettered outside the lock
  {
    std::lock_guard lock(mutex_);
    if (!failure_) failure_ = std::move(reason);
    reason = *failure_;
    undelivered_ += in_flight.size() + queue_.size();
    dropped.swap(queue_);
  }
  give_up(in_flight, reason);
  give_up(dropped, reason);
}

void OutputQueue::cut(std::deque<Message>& batch) {
  abandoned_ += batch.size();
  batch.clear();
  abandon_queued();
  std::lock_guard lock(mutex_);
  busy_ = false;
  cut_ = true;
  idle_.notify_all();
}

std::optional<std::string> OutputQueue::held_too_long(const std::deque<Message>& batch) const {
  const auto waited = std::chrono::steady_clock::now() - batch.front().queued_at;
  if (waited <= settings_.max_hold) return std::nullopt;
  char seconds[96];
  std::snprintf(seconds, sizeof seconds, "%.1f s for its delivery, more than output_max_hold_s = %g",
                std::chrono::duration<double>(waited).count(), std::chrono::duration<double>(settings_.max_hold).count());
  return describe() + " is too slow: a message waited " + seconds +
         " (meanwhile its alerts' batches are not acknowledged)";
}

void OutputQueue::count_delivered(uint64_t n) {
  delivered_ += n;
  if (settings_.side_work) *settings_.side_work += n;
}

void OutputQueue::run() {
  for (;;) {
    std::deque<Message> batch;
    {
      std::unique_lock lock(mutex_);
      idle_.notify_all();
      wake_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !failure_); });
      if (stopping_) return;
      size_t n = output_.kind == Output::Kind::kafka ? std::min(queue_.size(), kMessagesPerDelivery) : 1;
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      busy_ = true;
    }
    // Once the run is torn down nothing more is sent: not the next message either.
    if (torn_down()) return cut(batch);
    std::optional<std::string> failed = held_too_long(batch);
    try {
      if (!failed) failed = deliver(batch);
    } catch (const Fault& fault) {
      failed = describe() + ": " + fault.message();
    }
    // The run is being torn down: the request was cut here, the output did not refuse it. Its
    // filter is not paused, and what is left is let go: abandoned, as every release after a
    // teardown is.
    if (failed && torn_down()) return cut(batch);
    // What deliver() left in `batch` was not delivered: dead-lettered with what is queued.
    if (failed) fail_with(*failed, batch);
    batch.clear();
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
}

std::optional<std::string> OutputQueue::deliver(std::deque<Message>& batch) {
  Transport& t = *transport_;
  if (output_.kind == Output::Kind::kafka) {
    if (!t.publisher) t.publisher = std::make_unique<kafka::Publisher>(settings_.kafka_properties, output_.target);
    const bool confluent = output_.format == "avro-confluent";
    if (confluent && t.frame_header.empty()) {
      // Registered here, not in the actor: a registry that is slow to answer holds up this output only.
      if (settings_.schema_registry.empty())
        return describe() + ": avro-confluent needs a schema registry (the `filters` actor's `schema_registry`)";
      uint32_t id = kafka::register_schema(settings_.schema_registry, output_.target + "-value",
                                           std::string(kafka::alert_avro_schema()), settings_.timeout);
      t.frame_header = std::string(1, '\0');
      for (int shift = 24; shift >= 0; shift -= 8) t.frame_header.push_back(static_cast<char>((id >> shift) & 0xff));
      std::lock_guard lock(mutex_);
      frame_header_ = t.frame_header;
    }
    const uint64_t failed_before = t.publisher->failed();
    t.publisher->take_delivered_tags();  // late reports of an earlier batch's messages: already given up on
    // The messages whose delivery a report confirmed count as delivered (their tokens released);
    // the rest stay in `batch`, counted as not confirmed delivered by the caller (some may be in the
    // topic). By tag: reports from different partitions come in any order.
    const uint64_t first_tag = t.next_tag;
    t.next_tag += batch.size();
    auto confirmed = [&] {
      std::vector<bool> done(batch.size(), false);
      for (uint64_t tag : t.publisher->take_delivered_tags())
        if (tag >= first_tag && tag - first_tag < done.size()) done[tag - first_tag] = true;
      std::deque<Message> left;
      for (size_t i = 0; i < batch.size(); ++i)
        if (!done[i]) left.push_back(std::move(batch[i]));
      const uint64_t n = batch.size() - left.size();
      batch.swap(left);
      left.clear();  // delivered: their tokens released
      count_delivered(n);
    };
    // A message librdkafka refuses (larger than message.max.bytes) fails the output, but those
    // handed to it before may still reach the topic: their reports are waited for as below, and
    // only the messages from the refused one on (never handed over) are surely undelivered.
    std::optional<std::string> refused;
    for (size_t i = 0; i < batch.size() && !refused; ++i) {
      if (torn_down()) return describe() + ": the run was torn down";
      try {
        t.publisher->publish(confluent ? t.frame_header + batch[i].body : batch[i].body, batch[i].key, first_tag + i);
      } catch (const Fault& fault) {
        refused = describe() + ": " + fault.message();
      }
    }
    // In slices: a teardown cuts the wait (what is published may still reach the topic).
    const auto deadline = std::chrono::steady_clock::now() + settings_.timeout;
    while (!t.publisher->reports_in(kReportSlice)) {
      if (torn_down()) return describe() + ": the run was torn down";
      if (std::chrono::steady_clock::now() >= deadline) {
        confirmed();
        return describe() + ": delivery reports did not come within output_timeout_ms = " +
               std::to_string(settings_.timeout.count());
      }
    }
    confirmed();
    if (t.publisher->failed() > failed_before) return describe() + " rejected messages: " + t.publisher->first_error();
    return refused;
  }
  if (!t.curl) {
    t.curl.reset(curl_easy_init());
    if (!t.curl) return describe() + ": cannot create a libcurl handle";
    t.headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(t.curl.get(), CURLOPT_URL, output_.target.c_str());
    curl_easy_setopt(t.curl.get(), CURLOPT_HTTPHEADER, t.headers.get());
    curl_easy_setopt(t.curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(t.curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t.curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t.curl.get(), CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(t.curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(t.curl.get(), CURLOPT_XFERINFOFUNCTION, abort_when_torn_down);
    curl_easy_setopt(t.curl.get(), CURLOPT_XFERINFODATA, settings_.scope.get());
  }
  while (!batch.empty()) {
    const Message& m = batch.front();
    std::string body;
    curl_easy_setopt(t.curl.get(), CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(t.curl.get(), CURLOPT_POSTFIELDS, m.body.c_str());
    curl_easy_setopt(t.curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(m.body.size()));
    CURLcode code = curl_easy_perform(t.curl.get());
    if (code != CURLE_OK) return describe() + ": no answer: " + curl_easy_strerror(code);
    long status = 0;
    curl_easy_getinfo(t.curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) return describe() + ": HTTP " + std::to_string(status) + ": " + body;
    batch.pop_front();  // delivered: its tokens released (when no other message or holder keeps them)
    count_delivered(1);
  }
  return std::nullopt;
}

}  // namespace ebs::filter_registry
