#include "actors/common/kafka/kafka_source.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <utility>

#include "actors/common/ingest/message_ingester.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/offsets_by_time.h"
#include "actors/common/kafka/pin_budget.h"
#include "actors/common/kafka/replay.h"
#include "engine/runtime/actor_counters.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/source_batch.h"
#include "engine/time/time_scale.h"

namespace ebs {

namespace {

using Clock = std::chrono::steady_clock;
using kafka::KafkaHandle;

constexpr size_t kDefaultFetchMaxBytes = size_t{2} << 20;
// What a fetch response may hold beyond fetch.max.bytes of records: its own and each partition's
// headers (~50 bytes a partition: 667 partitions take ~33 KB).
constexpr size_t kFetchResponseOverhead = size_t{256} << 10;
// Copying every message this long (no view between) says the budget stays exhausted: records
// kept long past their acknowledgement, or a budget too small for what is in flight.
constexpr auto kBudgetExhaustedWarning = std::chrono::seconds(60);

// A polled message owned until destroyed: one left undestroyed (an exception between poll and
// destroy) makes rd_kafka_consumer_close wait for it forever.
struct MessageDestroyer {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDestroyer>;

struct PartitionKey {
  std::string topic;
  int32_t partition;
  bool operator<(const PartitionKey& o) const { return std::tie(topic, partition) < std::tie(o.topic, o.partition); }
};

// The consumer and what outlives the source logic: acknowledgements arrive from sinks after the
// source has finished. Each partition's AckTracker listener holds the consumer (the logic holds
// the trackers, the consumer does not: no cycle), so the consumer lives until the last record
// is acknowledged, then commits the final watermarks and closes.
class Consumer {
 public:
  std::unique_ptr<kafka::EmbeddedBroker> broker;  // destroyed after the consumer below
  KafkaHandle rk;
  std::string place;
  std::string actor_id, group, brokers;
  std::map<std::string, std::string> properties;  // the consumer's (offsets by time read with their own consumer)
  bool from_committed = true;  // start: committed (else earliest, latest or a time: the group's offsets are ignored)
  int64_t start = RD_KAFKA_OFFSET_BEGINNING;
  int64_t start_timestamp_ms = -1;
  // Set by librdkafka's error callback (run inside consumer_poll, on the source's thread).
  bool all_brokers_down = false;
  // A connection to a broker failed: librdkafka may never say ALL_BROKERS_DOWN while a logical
  // broker (the group coordinator) still counts as up, so the source asks the cluster itself.
  bool transport_failed = false;
  // The source's probe found no broker answering. Commits wait meanwhile: librdkafka would queue
  // them for the coordinator until they time out (about 45 s), and rd_kafka_destroy waits for
  // them; what they would have committed stays committable and goes with the next commit.
  std::atomic<bool> unreachable{false};
  bool reached = false;  // a broker answered once
  std::string last_error;
  uint64_t to_read = 0;  // messages between the start offsets and the ends at assignment (progress)
  // Touched by the source's thread and by rebalance callbacks, which librdkafka runs inside
  // consumer_poll on that same thread (or in close, after the source is gone).
  std::set<PartitionKey> assigned, at_end;
  // What the rebalance callback could not do (a start offset by time that the broker refused):
  // an exception must not unwind through librdkafka's C frames, so it waits here and the source
  // rethrows it on its own thread after consumer_poll returns (rethrow_rebalance_failure).
  std::exception_ptr rebalance_failure;

  void rethrow_rebalance_failure() {
    if (!rebalance_failure) return;
    std::exception_ptr failure = std::exchange(rebalance_failure, nullptr);
    std::rethrow_exception(failure);
  }

  ~Consumer() {
    if (!rk) return;
    // With the broker gone a synchronous commit or close would wait for it without end: commit
    // asynchronously and give the close 10 s.
    bool gone = all_brokers_down || unreachable || !reached;
    commit_all(gone);
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk.get());
    rd_kafka_consumer_close_queue(rk.get(), queue);
    auto deadline = Clock::now() + std::chrono::seconds(gone ? 2 : 10);
    while (!rd_kafka_consumer_closed(rk.get()) && Clock::now() < deadline) {
      rd_kafka_event_t* e = rd_kafka_queue_poll(queue, 100);
      if (!e) continue;
      // The group's revoke comes here once the rebalance callback is out of reach: the close
      // waits for that unassign, and rd_kafka_destroy would then spin for ever.
      if (rd_kafka_event_type(e) == RD_KAFKA_EVENT_REBALANCE) assign(nullptr);
      rd_kafka_event_destroy(e);
    }
    rd_kafka_queue_destroy(queue);
    if (unreachable) {
      // Commits issued before the broker was found gone wait for a coordinator until the session
      // times out (45 s) and rd_kafka_destroy waits for them: let that happen off the run's path
      // (they cannot succeed; offsets stay at the last commit that did).
      std::thread([handle = rk.release()] { rd_kafka_destroy_flags(handle, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); })
          .detach();
      return;
    }
    rd_kafka_destroy_flags(rk.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Consumer*>(opaque);
    self->last_error = reason;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE) self->all_brokers_down = true;
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT) self->transport_failed = true;
  }

  static std::shared_ptr<AckTracker> make_tracker(const PartitionKey& key, const std::shared_ptr<Consumer>& self,
                                                  std::shared_ptr<const AckScope> scope) {
    return std::make_shared<AckTracker>([self, key](uint64_t through) { self->acknowledged(key, through); },
                                        std::move(scope));
  }

  // `start: committed`: the group's committed offsets, earliest where there is none; otherwise
  // `start` for every partition (a timestamp is looked up). Says where each partition is read
  // from and how far behind it is, as kcat -v and the Fink/Lasair clients do.
  void start_partitions(rd_kafka_topic_partition_list_t* list) {
    for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (from_committed && list->cnt > 0) {
      rd_kafka_resp_err_t err = rd_kafka_committed(rk.get(), list, 10000);
      if (err) spdlog::warn("{}: cannot read group '{}''s committed offsets: {}", actor_id, group, rd_kafka_err2str(err));
    }
    std::vector<std::string> how(list->cnt);
    bool by_time = !from_committed && start_timestamp_ms >= 0;
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_t& p = list->elems[i];
      if (from_committed && p.offset >= 0) {
        how[i] = "the committed offset " + std::to_string(p.offset) + " of group '" + group + "'";
      } else if (by_time) {
        p.offset = start_timestamp_ms;
        how[i] = "the time " + std::to_string(start_timestamp_ms) + " ms";
      } else {
        bool latest = !from_committed && start == RD_KAFKA_OFFSET_END;
        p.offset = latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        how[i] = std::string(latest ? "latest" : "earliest") + (from_committed ? " (group '" + group + "' has no committed offset)" : "");
      }
    }
    if (by_time && list->cnt > 0) {
      rd_kafka_resp_err_t err = kafka::offsets_for_times(rk.get(), list, properties, 10000);
      if (err) fail(place, std::string("start at a time: ") + rd_kafka_err2str(err));
    }
    to_read = 0;
    uint64_t behind_total = 0;
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_t& p = list->elems[i];
      int64_t low = 0, high = 0;
      if (rd_kafka_query_watermark_offsets(rk.get(), p.topic, p.partition, &low, &high, 5000)) {
        spdlog::info("{}: {}/{} from {}", actor_id, p.topic, p.partition, how[i]);
        continue;
      }
      int64_t from = p.offset == RD_KAFKA_OFFSET_BEGINNING ? low : p.offset == RD_KAFKA_OFFSET_END || p.offset < 0 ? high : std::max(p.offset, low);
      uint64_t lag = static_cast<uint64_t>(std::max<int64_t>(0, high - from));
      to_read += lag;
      behind_total += lag;
      spdlog::info("{}: {}/{} from {}: offset {}, lag {} (offsets {}..{})", actor_id, p.topic, p.partition, how[i],
                   from, lag, low, high);
    }
    if (from_committed && list->cnt > 0 && behind_total == 0)
      spdlog::warn("{}: nothing new to read: group '{}' has read {} partition(s) to their end; "
                   "`start: earliest` (or --set {}.start=earliest) reads them again",
                   actor_id, group, list->cnt, actor_id);
    assign(list);
  }

  void assign(rd_kafka_topic_partition_list_t* list) {
    assigned.clear();
    at_end.clear();
    for (int i = 0; list && i < list->cnt; ++i) assigned.insert({list->elems[i].topic, list->elems[i].partition});
    rd_kafka_assign(rk.get(), list);
  }

  static void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque) {
    auto* self = static_cast<Consumer*>(opaque);
    try {
      if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        self->start_partitions(partitions);
      } else {
        self->assign(nullptr);
      }
    } catch (...) {
      self->rebalance_failure = std::current_exception();
    }
  }

  struct Partition {
    std::map<uint64_t, int64_t> next_offset_after;  // sequence -> offset + 1 of its last message
    int64_t committable = -1;
    int64_t committed = -1;
  };

  void issued(const PartitionKey& key, uint64_t sequence, int64_t next_offset) {
    std::lock_guard lock(mutex_);
    partitions_[key].next_offset_after[sequence] = next_offset;
  }

  // Commits asynchronously what every sink has acknowledged.
  void acknowledged(const PartitionKey& key, uint64_t through) {
    {
      std::lock_guard lock(mutex_);
      Partition& p = partitions_[key];
      auto end = p.next_offset_after.upper_bound(through);
      for (auto it = p.next_offset_after.begin(); it != end; ++it) p.committable = std::max(p.committable, it->second);
      p.next_offset_after.erase(p.next_offset_after.begin(), end);
    }
    commit_all(true);
  }

  void commit_all(bool async) {
    if (unreachable.load(std::memory_order_acquire)) return;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
    {
      std::lock_guard lock(mutex_);
      for (auto& [key, p] : partitions_) {
        if (p.committable > p.committed) {
          rd_kafka_topic_partition_list_add(list, key.topic.c_str(), key.partition)->offset = p.committable;
          p.committed = p.committable;
        }
      }
    }
    if (list->cnt > 0 && rk) {
      rd_kafka_resp_err_t err = rd_kafka_commit(rk.get(), list, async ? 1 : 0);
      if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        spdlog::warn("kafka commit failed: {}", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(list);
  }

 private:
  std::mutex mutex_;
  std::map<PartitionKey, Partition> partitions_;
};

// start: committed | earliest | latest | ISO 8601 UTC | milliseconds since 1970 (committed is
// read per partition; here it is the earliest fallback).
int64_t start_offset(const std::string& start, const std::string& place, int64_t* timestamp_ms) {
  if (start == "earliest" || start == "committed") return RD_KAFKA_OFFSET_BEGINNING;
  if (start == "latest") return RD_KAFKA_OFFSET_END;
  char* end = nullptr;
  long long ms = std::strtoll(start.c_str(), &end, 10);
  if (end && *end == 0 && !start.empty()) {
    *timestamp_ms = ms;
  } else {
    double mjd_utc = time::mjd_tai_to_utc(time::iso_utc_to_mjd_tai(start, place), place);
    *timestamp_ms = static_cast<int64_t>(std::llround((mjd_utc - 40587.0) * 86400000.0));
  }
  return RD_KAFKA_OFFSET_INVALID;
}

// A message whose records view its payload (no copy): librdkafka's fetch buffer stays alive, and
// counts against the source's PinBudget, until the last of its records is destroyed. Holds the
// consumer, which must outlive every message it handed out (rd_kafka_consumer_close waits for
// them without end).
class ViewedMessage {
 public:
  ViewedMessage(std::shared_ptr<Consumer> consumer, std::shared_ptr<kafka::PinBudget> budget, kafka::PinBudget::Pin pin,
                MessagePtr message)
      : consumer_(std::move(consumer)), budget_(std::move(budget)), pin_(pin), message_(std::move(message)) {}
  ViewedMessage(const ViewedMessage&) = delete;
  ViewedMessage& operator=(const ViewedMessage&) = delete;
  ~ViewedMessage() {
    message_.reset();
    budget_->release(pin_);
  }
  std::string_view payload() const { return {static_cast<const char*>(message_->payload), message_->len}; }

 private:
  std::shared_ptr<Consumer> consumer_;  // destroyed last
  std::shared_ptr<kafka::PinBudget> budget_;
  kafka::PinBudget::Pin pin_;
  MessagePtr message_;
};

class KafkaSource final : public ActorLogic, public ActorCounters {
 public:
  KafkaSource(PortType output_type, std::unique_ptr<KafkaMessageDecoder> decoder)
      : output_type_(output_type), decoder_(std::move(decoder)) {}

  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    place_ = c.place("topics");
    topics_ = c.strings("topics");
    if (topics_.empty()) fail(place_, "no topics");
    batch_delay_ = context.batch_delay;
    acks_ = context.acks;
    stop_at_end_ = c.boolean("stop_at_end");
    max_messages_ = c.integer("max_messages");
    consumer_ = std::make_shared<Consumer>();
    consumer_->place = place_;
    consumer_->actor_id = context.actor_id;
    consumer_->group = c.string("group");
    consumer_->from_committed = c.string("start") == "committed";
    consumer_->start = start_offset(c.string("start"), c.place("start"), &consumer_->start_timestamp_ms);
    connect_timeout_s_ = c.number("connect_timeout_s");
    reconnect_timeout_s_ = c.number("reconnect_timeout_s");
    assign_ = c.boolean("assign");
    instance_ = context.instance;
    parallelism_ = context.parallelism;

    std::map<std::string, std::string> properties = kafka::properties_from(c);
    if (c.has("embedded_broker")) start_embedded_broker(c, properties);
    properties.emplace("group.id", c.string("group"));
    properties["enable.auto.commit"] = "false";
    properties["enable.auto.offset.store"] = "false";
    properties["auto.offset.reset"] = consumer_->start == RD_KAFKA_OFFSET_END ? "latest" : "earliest";
    consumer_->brokers = properties.count("bootstrap.servers") ? properties["bootstrap.servers"] : "";
    if (stop_at_end_) properties["enable.partition.eof"] = "true";
    properties.emplace("client.id", "ebs-flow-" + context.actor_id + "-" + std::to_string(context.instance));
    // Fetch responses of at most 2 MiB unless set (librdkafka's default: 50 MB). A response is
    // received into one buffer of its size, and buffers of 8 MiB and more came back as fresh
    // pages, faulted in while the socket filled them: the reference workflow from the embedded
    // broker took 2.2x the CPU per alert (docs/kafka.md, "Fetch size").
    // librdkafka refuses a fetch.max.bytes under message.max.bytes: a workflow that raised the
    // latter gets at least as much.
    size_t fetch_max = kDefaultFetchMaxBytes;
    if (auto it = properties.find("message.max.bytes"); it != properties.end()) {
      size_t message_max = 0;
      const std::string& text = it->second;
      if (std::from_chars(text.data(), text.data() + text.size(), message_max).ec == std::errc())
        fetch_max = std::max(fetch_max, message_max);
    }
    properties.emplace("fetch.max.bytes", std::to_string(fetch_max));
    // A viewed message pins the response it came in: at most fetch.max.bytes of records (as set
    // here or by the workflow) plus headers, or one message larger than that alone.
    size_t response_max = fetch_max;
    const std::string& fetch_text = properties["fetch.max.bytes"];
    std::from_chars(fetch_text.data(), fetch_text.data() + fetch_text.size(), response_max);
    int64_t view_budget = c.bytes("view_budget_bytes");
    budget_place_ = c.place("view_budget_bytes");
    pins_ = std::make_shared<kafka::PinBudget>(decoder_->views_messages() ? static_cast<size_t>(view_budget) : 0,
                                               std::max(response_max, fetch_max), kFetchResponseOverhead);
    if (pins_->budget_bytes() > 0 && pins_->budget_bytes() < pins_->isolated_pin_bytes())
      spdlog::warn("{}: {} bytes view few messages or none: a message counts up to {} bytes (2.25 fetch windows of "
                   "{}); past the budget messages are copied",
                   budget_place_, pins_->budget_bytes(), pins_->isolated_pin_bytes(), pins_->window_bytes());
    consumer_->properties = properties;
    rd_kafka_conf_t* conf = kafka::make_conf(properties, c.place("properties"));
    rd_kafka_conf_set_opaque(conf, consumer_.get());
    rd_kafka_conf_set_error_cb(conf, &Consumer::on_error);
    if (!c.boolean("assign")) rd_kafka_conf_set_rebalance_cb(conf, &Consumer::on_rebalance);
    char error[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!rk) fail(c.place("properties"), std::string("kafka consumer: ") + error);
    consumer_->rk.reset(rk);
    rd_kafka_poll_set_consumer(rk);

    opened_at_ = Clock::now();
    // assign: true asks the cluster for its partitions once connected (produce), so that an
    // unreachable broker times out there, where a stop request can interrupt the wait.
    if (!assign_) {
      rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size()));
      for (const std::string& t : topics_) rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
      rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list);
      rd_kafka_topic_partition_list_destroy(list);
      if (err) fail(place_, std::string("subscribe: ") + rd_kafka_err2str(err));
    }
  }

  ProduceResult produce(size_t max_records, Emitter& out) override {
    if (done_) return ProduceResult::done();
    if (!reachable()) return ProduceResult::idle(std::chrono::microseconds(100000));
    if (assign_ && !assigned_) {
      assign_share(instance_, parallelism_);
      assigned_ = true;
    }
    rd_kafka_t* rk = consumer_->rk.get();
    std::vector<MessagePtr> messages;
    auto deadline = Clock::now() + batch_delay_;
    size_t limit = max_records;
    if (max_messages_ > 0) limit = std::min<size_t>(limit, static_cast<size_t>(max_messages_ - consumed_));
    size_t message_bytes = 0;  // a batch also ends at kSourceBatchBytes of messages
    while (messages.size() < limit && message_bytes < batch_bytes_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      int timeout = messages.empty() ? 100 : static_cast<int>(std::max<int64_t>(0, left));
      MessagePtr m(rd_kafka_consumer_poll(rk, timeout));
      consumer_->rethrow_rebalance_failure();
      if (!m) {
        if (!messages.empty() || Clock::now() >= deadline) break;
        if (stop_at_end_ && all_at_end()) break;
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        consumer_->at_end.insert({rd_kafka_topic_name(m->rkt), m->partition});
        if (stop_at_end_ && all_at_end()) break;
        continue;
      }
      if (m->err) {
        std::string what = rd_kafka_message_errstr(m.get());
        bool fatal = m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
        m.reset();
        if (fatal) fail(place_, "kafka: " + what);
        spdlog::warn("kafka consumer: {}", what);
        continue;
      }
      consumer_->at_end.erase({rd_kafka_topic_name(m->rkt), m->partition});
      message_bytes += m->len;
      messages.push_back(std::move(m));
    }
    if (!messages.empty()) emit(messages, out);
    if (stop_at_end_ && consumer_->to_read > 0) out.progress(consumed_, consumer_->to_read);
    if (max_messages_ > 0 && consumed_ >= static_cast<uint64_t>(max_messages_)) done_ = true;
    if (stop_at_end_ && messages.empty() && all_at_end()) done_ = true;
    if (done_) return ProduceResult::done();
    return messages.empty() ? ProduceResult::idle(std::chrono::microseconds(1000)) : ProduceResult::more();
  }

  // The pin budget's: the bound on the bytes its records pin in librdkafka's buffers (now and at
  // its peak), the budget, and the messages viewed and copied.
  std::map<std::string, uint64_t> counters() const override { return pins_ ? pins_->counters() : std::map<std::string, uint64_t>{}; }

 private:
  // Whether the cluster answers: checked until the first answer and again after librdkafka
  // says every broker is down or a connection failed (an idle connection the broker closed costs
  // one metadata request that answers at once). Gives up after connect_timeout_s at start and reconnect_timeout_s
  // mid-run (0 = never): a Fault that stops the source; the graph drains and offsets stay at
  // what was written.
  bool reachable() {
    if (connected_ && !consumer_->all_brokers_down && !consumer_->transport_failed) return true;
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_->rk.get(), 0, nullptr, &metadata, 500);
    if (!err) {
      rd_kafka_metadata_destroy(metadata);
      if (connected_ && down_since_) spdlog::info("{}: the Kafka broker {} is back", place_, consumer_->brokers);
      connected_ = true;
      consumer_->reached = true;
      consumer_->all_brokers_down = false;
      consumer_->transport_failed = false;
      down_since_.reset();
      if (consumer_->unreachable.exchange(false)) consumer_->commit_all(true);  // what waited while it was gone
      return true;
    }
    std::string why = consumer_->last_error.empty() ? rd_kafka_err2str(err) : consumer_->last_error;
    auto now = Clock::now();
    if (!connected_) {
      if (connect_timeout_s_ > 0 && now - opened_at_ > std::chrono::duration<double>(connect_timeout_s_))
        disconnected(place_, "cannot reach the Kafka broker '" + consumer_->brokers + "' within " +
                                 seconds_text(connect_timeout_s_) + " s (connect_timeout_s; 0 = keep trying): " + why);
      return false;
    }
    consumer_->unreachable = true;
    if (!down_since_) {
      down_since_ = now;
      spdlog::warn("{}: lost the Kafka broker {} ({}); reconnecting for up to {} s (reconnect_timeout_s)", place_,
                   consumer_->brokers, why, seconds_text(reconnect_timeout_s_));
    }
    if (reconnect_timeout_s_ > 0 && now - *down_since_ > std::chrono::duration<double>(reconnect_timeout_s_))
      disconnected(place_, "lost the Kafka broker '" + consumer_->brokers + "' for more than " +
                               seconds_text(reconnect_timeout_s_) + " s (reconnect_timeout_s; 0 = keep trying): " + why +
                               "; stopped, offsets committed only up to what was written");
    return false;
  }

  static std::string seconds_text(double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", s);
    return text;
  }

  bool all_at_end() const {
    return !consumer_->assigned.empty() && consumer_->at_end.size() >= consumer_->assigned.size();
  }

  // Decodes the messages; one ack token per partition covers its messages. Whatever a message
  // makes the decoder throw is that message's dead letter; a failure of the batch itself abandons
  // its tokens, so no offset is committed past a message that was not handled.
  void emit(std::vector<MessagePtr>& messages, Emitter& out) {
    std::map<PartitionKey, std::pair<size_t, int64_t>> per_partition;  // count, last offset
    for (const MessagePtr& m : messages) {
      auto& [count, last] = per_partition[{rd_kafka_topic_name(m->rkt), m->partition}];
      ++count;
      last = std::max<int64_t>(last, m->offset);
    }
    std::map<PartitionKey, AckRef> tokens;
    for (const auto& [key, stats] : per_partition) {
      auto& tracker = trackers_[key];
      if (!tracker) tracker = Consumer::make_tracker(key, consumer_, acks_);
      auto token = std::make_shared<const AckToken>(tracker, stats.first);
      consumer_->issued(key, token->sequence(), stats.second + 1);
      tokens[key] = token;
    }
    std::vector<RecordPtr> records_out;
    std::vector<ingest::IngestFailure> failures;
    std::vector<AckRef> batch_acks;
    for (const auto& [key, token] : tokens) batch_acks.push_back(token);
    AbandonOnThrow abandon_on_throw(batch_acks);
    size_t records = 0;
    for (MessagePtr& m : messages) {
      PartitionKey key{rd_kafka_topic_name(m->rkt), m->partition};
      std::string place = key.topic + "/" + std::to_string(m->partition) + "/" + std::to_string(m->offset);
      // Viewed in librdkafka's buffer while the pin budget allows (records keep the message),
      // copied past it (the message is destroyed here).
      std::shared_ptr<const ViewedMessage> viewed;
      std::shared_ptr<const std::string> copied;
      if (auto pin = pins_->try_pin(m->payload, m->len)) {
        kafka::PinBudget::Guard guard(*pins_, *pin);  // until the message holds it
        viewed = std::make_shared<const ViewedMessage>(consumer_, pins_, *pin, std::move(m));
        guard.dismiss();
      } else
        copied = std::make_shared<const std::string>(static_cast<const char*>(m->payload), m->len);
      m.reset();
      note_budget(viewed != nullptr);
      const std::string_view bytes = viewed ? viewed->payload() : std::string_view(*copied);
      size_t before = failures.size();
      size_t records_before = records_out.size();
      try {
        if (viewed) decoder_->decode_view(bytes, viewed, place, records_out, failures);
        else decoder_->decode(copied, place, records_out, failures);
      } catch (const std::exception& error) {
        records_out.resize(records_before);
        failures.erase(failures.begin() + static_cast<std::ptrdiff_t>(before), failures.end());
        failures.push_back({to_fault(error, place), std::string(bytes), "bytes"});
      }
      records += records_out.size() - records_before + failures.size() - before;
      for (size_t i = before; i < failures.size(); ++i)
        out.failed_raw(std::move(failures[i].original), failures[i].original_format, failures[i].fault, {tokens[key]});
    }
    consumed_ += messages.size();
    messages.clear();
    out.read(records);
    if (!records_out.empty()) out.forward(0, BatchView::make(output_type_, std::move(records_out), std::move(batch_acks)));
  }

  // Past its budget the source copies, silently by design; copying for a long stretch is said
  // once, naming the key.
  void note_budget(bool viewed) {
    if (viewed || pins_->budget_bytes() == 0) {
      copying_since_.reset();
      return;
    }
    const Clock::time_point now = Clock::now();
    if (!copying_since_) copying_since_ = now;
    if (warned_budget_ || now - *copying_since_ < kBudgetExhaustedWarning) return;
    warned_budget_ = true;
    spdlog::warn("{}: every message copied for {} s: the fetch buffers that viewed records keep alive fill the "
                 "budget ({} bytes); records are kept long past their acknowledgement, or the budget is small "
                 "for what is in flight (raise it, or 0 to always copy)",
                 budget_place_, std::chrono::duration_cast<std::chrono::seconds>(now - *copying_since_).count(),
                 pins_->budget_bytes());
  }

  void start_embedded_broker(const ActorConfig& c, std::map<std::string, std::string>& properties) {
    YAML::Node e = c.node("embedded_broker");
    if (e.IsScalar() && e.Scalar() == "false") return;
    consumer_->broker = std::make_unique<kafka::EmbeddedBroker>();
    int partitions = e.IsMap() && e["partitions"] ? e["partitions"].as<int>() : 3;
    for (const std::string& t : topics_)
      if (!t.starts_with("^")) consumer_->broker->create_topic(t, partitions);
    properties["bootstrap.servers"] = consumer_->broker->bootstrap_servers();
    if (e.IsMap() && e["preload"]) {
      kafka::ReplayOptions replay;
      for (const auto& p : e["preload"].IsSequence() ? e["preload"] : YAML::Node(std::vector<std::string>{e["preload"].as<std::string>()}))
        replay.inputs.push_back(workflow_relative(c.file(), p.as<std::string>()));
      replay.topic = topics_.front();
      replay.brokers = consumer_->broker->bootstrap_servers();
      if (e["wire"]) replay.wire = e["wire"].as<std::string>();
      if (e["schema_id"]) replay.schema_id = e["schema_id"].as<int64_t>();
      try {
        kafka::ReplayCounts counts = kafka::replay(replay);
        spdlog::info("embedded broker {}: {} messages preloaded into {}", replay.brokers, counts.messages, replay.topic);
      } catch (const Fault& f) {
        fail(c.place("embedded_broker"), f.what());
      }
    }
  }

  // assign: true: partitions of the topics (regexes matched against the cluster's topics),
  // every parallelism-th to this instance, from the group's committed offsets or `start`.
  void assign_share(size_t instance, size_t parallelism) {
    rd_kafka_t* rk = consumer_->rk.get();
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    // A fresh mock topic may report no partitions for a moment: ask until it does.
    for (int attempt = 0; attempt < 50; ++attempt) {
      err = rd_kafka_metadata(rk, 1, nullptr, &metadata, 5000);
      if (err) disconnected(place_, std::string("metadata: ") + rd_kafka_err2str(err));
      bool complete = true;
      for (const std::string& t : topics_) {
        if (t.starts_with("^")) continue;
        bool found = false;
        for (int i = 0; i < metadata->topic_cnt; ++i)
          found = found || (metadata->topics[i].topic == t && metadata->topics[i].partition_cnt > 0);
        complete = complete && found;
      }
      if (complete) break;
      rd_kafka_metadata_destroy(metadata);
      metadata = nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!metadata) fail(place_, "topics not found on the cluster");
    std::vector<PartitionKey> all;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
      bool wanted = false;
      for (const std::string& t : topics_)
        wanted = wanted || (t.starts_with("^") ? std::regex_search(topic.topic, std::regex(t)) : t == topic.topic);
      if (!wanted) continue;
      for (int p = 0; p < topic.partition_cnt; ++p) all.push_back({topic.topic, topic.partitions[p].id});
    }
    rd_kafka_metadata_destroy(metadata);
    std::sort(all.begin(), all.end());
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(all.size()));
    for (size_t i = instance; i < all.size(); i += parallelism)
      rd_kafka_topic_partition_list_add(list, all[i].topic.c_str(), all[i].partition);
    consumer_->start_partitions(list);
    rd_kafka_topic_partition_list_destroy(list);
  }

  std::string place_;
  std::vector<std::string> topics_;
  std::chrono::microseconds batch_delay_{5000};
  size_t batch_bytes_ = kSourceBatchBytes;
  bool stop_at_end_ = false;
  bool done_ = false;
  bool assign_ = false, assigned_ = false;
  size_t instance_ = 0, parallelism_ = 1;
  double connect_timeout_s_ = 30, reconnect_timeout_s_ = 300;
  bool connected_ = false;
  Clock::time_point opened_at_;
  std::optional<Clock::time_point> down_since_;
  int64_t max_messages_ = 0;
  uint64_t consumed_ = 0;
  PortType output_type_;
  std::unique_ptr<KafkaMessageDecoder> decoder_;
  std::shared_ptr<Consumer> consumer_;
  std::shared_ptr<kafka::PinBudget> pins_;
  std::string budget_place_;
  std::optional<Clock::time_point> copying_since_;  // every message copied since
  bool warned_budget_ = false;
  std::map<PartitionKey, std::shared_ptr<AckTracker>> trackers_;
  std::shared_ptr<const AckScope> acks_;
};

// Alerts: Avro containers or Confluent frames, decoded and mapped through survey profiles.
class AlertMessageDecoder final : public KafkaMessageDecoder {
 public:
  explicit AlertMessageDecoder(ingest::MessageIngester ingester) : ingester_(std::move(ingester)) {}
  void decode(const std::shared_ptr<const std::string>& message, std::string_view place, std::vector<RecordPtr>& out,
              std::vector<ingest::IngestFailure>& failures) override {
    ingester_.ingest(message, place, out, failures);
  }
  bool views_messages() const override { return true; }
  void decode_view(std::string_view message, const std::shared_ptr<const void>& keep_alive, std::string_view place,
                   std::vector<RecordPtr>& out, std::vector<ingest::IngestFailure>& failures) override {
    ingester_.ingest(message, keep_alive, place, out, failures);
  }

 private:
  ingest::MessageIngester ingester_;
};

}  // namespace

std::vector<ConfigKey> kafka_source_config_keys() {
  std::vector<ConfigKey> keys = {
      {"topics", ValueKind::list, true, "", "topic names or regexes (^...)"},
      {"group", ValueKind::string, false, "ebs-flow", "consumer group (group.id)"},
      {"start", ValueKind::string, false, "committed",
       "where to read from: committed (the group's offsets, earliest without), earliest, latest, ISO 8601 UTC or ms since 1970"},
      {"connect_timeout_s", ValueKind::number, false, "30", "give up when no broker answers this long at start (0 = keep trying)"},
      {"reconnect_timeout_s", ValueKind::number, false, "300",
       "mid-run, stop cleanly when every broker is gone this long (0 = keep trying)"},
      {"assign", ValueKind::boolean, false, "false", "spread partitions over instances without a group join"},
      {"stop_at_end", ValueKind::boolean, false, "false", "end the stream when every assigned partition is read to its end"},
      {"max_messages", ValueKind::integer, false, "0", "end after this many messages per instance (0 = no limit)"},
      {"view_budget_bytes", ValueKind::bytes, false, "64 MiB",
       "records view librdkafka's fetch buffers (no copy) while the buffers they keep alive, counted at worst, stay under this; copied past it (0 = always copy)"},
      {"embedded_broker", ValueKind::any, false, "",
       "start an in-process mock broker: {partitions: 3, preload: [files or folders], wire: ocf, schema_id: N}"},
  };
  for (ConfigKey& k : kafka::property_config_keys()) keys.push_back(std::move(k));
  return keys;
}

void register_kafka_message_source(ActorRegistry& registry, KafkaMessageSourceSpec spec) {
  if (!spec.make_decoder) fail(spec.name, "a Kafka message source needs make_decoder");
  ActorType t;
  t.name = spec.name;
  t.description = spec.description;
  t.version = spec.version;
  t.outputs = {spec.output};
  t.input_time_scale = spec.input_time_scale;
  t.blocking = true;
  t.config = kafka_source_config_keys();
  for (ConfigKey& k : spec.config) t.config.push_back(std::move(k));
  t.check = [check = std::move(spec.check)](const ActorConfig& c, std::vector<Problem>& problems) {
    std::string start = c.string("start");
    try {
      int64_t ts = -1;
      start_offset(start, c.place("start"), &ts);
    } catch (const Fault& f) {
      problems.push_back({c.place("start"), f.message()});
    }
    if (c.integer("max_messages") < 0) problems.push_back({c.place("max_messages"), "max_messages must be >= 0"});
    for (const char* key : {"connect_timeout_s", "reconnect_timeout_s"})
      if (c.number(key) < 0) problems.push_back({c.place(key), std::string(key) + " must be >= 0 (0 = keep trying)"});
    if (!c.has("embedded_broker") && kafka::properties_from(c).count("bootstrap.servers") == 0)
      problems.push_back({c.place("topics"), "no bootstrap.servers (properties or flat key) and no embedded_broker"});
    if (check) check(c, problems);
  };
  t.check_connect = kafka::check_kafka_consumer_connect;
  t.emits_fields = std::move(spec.emits_fields);
  t.create = [output_type = spec.output.type, make_decoder = std::move(spec.make_decoder)](const ActorContext& context) {
    return std::make_unique<KafkaSource>(output_type, make_decoder(context));
  };
  registry.add(std::move(t));
}

void register_kafka_source(ActorRegistry& registry, std::shared_ptr<const profiles::BuiltinProfiles> builtin) {
  KafkaMessageSourceSpec spec;
  spec.name = "kafka";
  spec.description = "Survey alerts from Kafka (librdkafka): Avro containers or Confluent frames, mapped by survey profiles; at-least-once commits";
  spec.version = "1.0";
  spec.output = {"alerts", PortType::alert, "alerts, one per Avro record"};
  spec.input_time_scale = "per profile (ztf, pgir, atlas: utc; rubin: tai)";
  spec.config = {
      {"wire", ValueKind::string, false, "auto", "auto, ocf (Avro container per message) or confluent (frame + schema id)"},
      {"schema_dir", ValueKind::string, false, "", "writer schemas of Confluent frames (.avsc in MAJOR/MINOR folders)"},
      {"registry", ValueKind::string, false, "", "schema registry URL for Confluent frames"},
      {"profile", ValueKind::list, false, "",
       "a profile name (forced) or a list of names (chosen among by writer schema and version); empty = all"},
      {"profiles", ValueKind::list, false, "[]", "more profile files or folders"},
  };
  spec.check = [builtin](const ActorConfig& c, std::vector<Problem>& problems) {
    std::string wire = c.string("wire");
    if (wire != "auto" && wire != "ocf" && wire != "confluent")
      problems.push_back({c.place("wire"), "wire must be auto, ocf or confluent, not '" + wire + "'"});
    if (wire == "confluent" && c.string("schema_dir").empty() && c.string("registry").empty())
      problems.push_back({c.place("wire"), "wire confluent needs schema_dir or registry"});
    ingest::check_ingest_config(c, *builtin, problems);
  };
  spec.make_decoder = [builtin](const ActorContext& context) -> std::unique_ptr<KafkaMessageDecoder> {
    return std::make_unique<AlertMessageDecoder>(ingest::make_ingester(context.config, *builtin));
  };
  spec.emits_fields = [builtin](const ActorConfig& c) { return ingest::ingest_field_sets(c, *builtin); };
  register_kafka_message_source(registry, std::move(spec));
}

}  // namespace ebs
