// librdkafka plumbing shared by the kafka source, the kafka sink, `ebs-flow broker` and
// `ebs-flow replay`: configuration from YAML (a `properties` map plus flat dotted keys, which is
// what `--set src.bootstrap.servers=...` produces), the embedded mock broker, and a publisher.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/actor_config.h"
#include "engine/graph/actor_type.h"

namespace ebs::kafka {

// librdkafka properties that may be written as flat config keys (beside `properties:`).
const std::vector<std::string>& flat_property_keys();
// ConfigKeys for `properties` and every flat property key.
std::vector<ConfigKey> property_config_keys();
// `properties` merged with the flat keys (flat keys win).
std::map<std::string, std::string> properties_from(const ActorConfig& config);

// librdkafka's own log lines through spdlog, at the level `run --log-level` sets.
void route_logs_to_spdlog(rd_kafka_conf_t* conf);

// An rd_kafka_conf_t with `properties` set (and its logs through spdlog); a bad property raises
// a `failed` Fault at `place`.
rd_kafka_conf_t* make_conf(const std::map<std::string, std::string>& properties, const std::string& place);

// Why no broker of `properties` (bootstrap.servers, security, ...) answers a metadata request
// within `timeout`; nothing when one does (`validate --connect`). `topics`, when given, receives
// the names of the cluster's topics.
std::optional<std::string> brokers_unreachable(std::map<std::string, std::string> properties,
                                               std::chrono::milliseconds timeout,
                                               std::vector<std::string>* topics = nullptr);

// `validate --connect` for a Kafka actor: its brokers (unless it starts an embedded one) and its
// schema registry (`registry`, when set).
void check_kafka_connect(const ActorConfig& config, std::vector<Problem>& problems);
// The same for a consumer, and every topic it reads (`topics`) exists on the cluster: a name the
// cluster lacks is named with the broker and the nearest topic names; a regex (`^...`) must match
// some topic.
void check_kafka_consumer_connect(const ActorConfig& config, std::vector<Problem>& problems);

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

// librdkafka's mock cluster on loopback: in memory, a random port, about 5 MiB kept per
// partition, no timestamp look-up (offsets_by_time.h searches instead), no SSL/SASL. For tests,
// demos and `ebs-flow broker`.
class EmbeddedBroker {
 public:
  explicit EmbeddedBroker(int brokers = 1);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  const std::string& bootstrap_servers() const { return bootstrap_; }
  void create_topic(const std::string& topic, int partitions);
  // For tests that make a broker or partition fail (rd_kafka_mock_broker_set_down, ...).
  rd_kafka_mock_cluster_t* mock_cluster() const { return cluster_; }

 private:
  KafkaHandle host_;  // the client instance that hosts the mock cluster
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

// An idempotent producer for replays: publish() queues (waiting while librdkafka's queue is
// full), flush() waits for every delivery and raises a `disconnected` Fault on failures.
class Publisher {
 public:
  Publisher(std::map<std::string, std::string> properties, std::string topic);
  ~Publisher();
  // A message the client refuses (larger than message.max.bytes, ...) is a `failed` Fault; a
  // broker that cannot be reached makes it wait (the queue is full) or fails at flush. A nonzero
  // `tag` is given back by take_delivered_tags() once its message's delivery is reported: reports
  // of messages on different partitions do not come in publish order.
  void publish(std::string_view value, std::string_view key = {}, uint64_t tag = 0);
  // Waits for every delivery report; a `disconnected` Fault when they do not all come in time or
  // when any message was not delivered.
  void flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits for every delivery report, failing only when they do not all come in time: the caller
  // reads failed() and first_error() itself.
  void flush_reports(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits up to `timeout` for every delivery report: true once all came (the caller reads failed()
  // and first_error()), false when some are still due. For a caller that waits in slices.
  bool reports_in(std::chrono::milliseconds timeout);
  uint64_t delivered() const { return delivered_; }
  uint64_t failed() const { return failed_; }
  const std::string& first_error() const { return first_error_; }
  // The tags of the messages reported delivered since the last call (reports come in on the
  // thread that publishes and waits: publish(), flush(), reports_in()).
  std::vector<uint64_t> take_delivered_tags();

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  KafkaHandle rk_;
  std::string topic_;
  uint64_t delivered_ = 0, failed_ = 0;
  std::string first_error_;
  std::vector<uint64_t> delivered_tags_;
};

}  // namespace ebs::kafka
