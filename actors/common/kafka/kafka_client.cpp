#include "actors/common/kafka/kafka_client.h"

#include <librdkafka/rdkafka_mock.h>

#include <spdlog/spdlog.h>

#include <regex>

#include "actors/common/reachability.h"
#include "engine/util/edit_distance.h"
#include "engine/util/fault.h"

namespace ebs::kafka {

const std::vector<std::string>& flat_property_keys() {
  static const std::vector<std::string> keys{
      "bootstrap.servers", "group.id", "client.id", "security.protocol", "sasl.mechanisms",
      "sasl.mechanism", "sasl.username", "sasl.password", "ssl.ca.location", "ssl.certificate.location",
      "ssl.key.location", "ssl.key.password", "session.timeout.ms", "max.poll.interval.ms",
      "fetch.max.bytes", "max.partition.fetch.bytes", "message.max.bytes", "compression.type",
      "linger.ms", "acks", "debug"};
  return keys;
}

std::vector<ConfigKey> property_config_keys() {
  std::vector<ConfigKey> keys{{"properties", ValueKind::map, false, "{}",
                               "librdkafka properties, passed through (bootstrap.servers, security.protocol, ...)"}};
  for (const std::string& k : flat_property_keys())
    keys.push_back({k, ValueKind::any, false, "", "librdkafka property (flat form of properties." + k + ")"});
  return keys;
}

std::map<std::string, std::string> properties_from(const ActorConfig& c) {
  std::map<std::string, std::string> out;
  if (c.has("properties")) {
    YAML::Node node = c.node("properties");
    if (node.IsMap())
      for (const auto& entry : node) out[entry.first.as<std::string>()] = entry.second.as<std::string>();
  }
  for (const std::string& k : flat_property_keys())
    if (c.has(k)) out[k] = c.node(k).as<std::string>();
  return out;
}

namespace {

// librdkafka's lines go through spdlog (`run --log-level`) instead of its own "%3|..." stderr
// lines; syslog levels map to spdlog's. Called from librdkafka's threads: spdlog is thread-safe.
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  spdlog::level::level_enum spd = level <= 3   ? spdlog::level::err
                                  : level == 4 ? spdlog::level::warn
                                  : level <= 6 ? spdlog::level::info
                                               : spdlog::level::debug;
  spdlog::log(spd, "kafka {} {}: {}", rk ? rd_kafka_name(rk) : "", facility, message);
}

}  // namespace

void route_logs_to_spdlog(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, &log_to_spdlog); }

rd_kafka_conf_t* make_conf(const std::map<std::string, std::string>& properties, const std::string& place) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  route_logs_to_spdlog(conf);
  char error[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      fail(place, "kafka property " + key + "=" + value + ": " + error);
    }
  }
  return conf;
}

std::optional<std::string> brokers_unreachable(std::map<std::string, std::string> properties,
                                               std::chrono::milliseconds timeout, std::vector<std::string>* topics) {
  properties["log_level"] = "0";  // the answer below says it once, in our words
  std::string last_error;
  rd_kafka_conf_t* conf = make_conf(properties, "kafka");
  rd_kafka_conf_set_opaque(conf, &last_error);
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int, const char* reason, void* opaque) {
    *static_cast<std::string*>(opaque) = reason;
  });
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!rk) return std::string(error);
  KafkaHandle handle(rk);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, nullptr, &metadata, static_cast<int>(timeout.count()));
  if (!err) {
    if (topics)
      for (int i = 0; i < metadata->topic_cnt; ++i)
        if (!metadata->topics[i].err) topics->push_back(metadata->topics[i].topic);
    rd_kafka_metadata_destroy(metadata);
    return std::nullopt;
  }
  return last_error.empty() ? std::string(rd_kafka_err2str(err)) : last_error;
}

namespace {

void check_connect(const ActorConfig& c, std::vector<Problem>& problems, bool consumer) {
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
  if (c.has("connect_timeout_s") && c.number("connect_timeout_s") > 0)
    timeout = std::chrono::milliseconds(static_cast<int64_t>(std::min(10.0, c.number("connect_timeout_s")) * 1000));
  if (!c.has("embedded_broker") || c.node("embedded_broker").Scalar() == "false") {
    std::map<std::string, std::string> properties = properties_from(c);
    std::string brokers = properties.count("bootstrap.servers") ? properties["bootstrap.servers"] : "";
    std::string place = c.has("bootstrap.servers") ? c.place("bootstrap.servers") : c.place("properties");
    std::vector<std::string> topics;
    if (auto why = brokers_unreachable(properties, timeout, &topics)) {
      problems.push_back({place, "cannot reach the Kafka broker '" + brokers + "' within " +
                                     std::to_string(timeout.count() / 1000) + " s: " + *why});
    } else if (consumer && c.has("topics")) {
      // A topic the cluster lacks is read as "nothing yet" for ever (or auto-created empty).
      for (const std::string& wanted : c.strings("topics")) {
        bool found = false;
        for (const std::string& t : topics)
          found = found || (wanted.starts_with("^") ? std::regex_search(t, std::regex(wanted)) : t == wanted);
        if (found) continue;
        std::vector<std::string> hint = nearest_names(wanted, topics);
        std::string text = wanted.starts_with("^") ? "no topic on the Kafka broker '" + brokers + "' matches '" + wanted + "'"
                                                   : "the Kafka broker '" + brokers + "' has no topic '" + wanted + "'";
        if (!hint.empty()) {
          text += " (did you mean ";
          for (size_t i = 0; i < hint.size(); ++i) text += (i ? (i + 1 == hint.size() ? " or '" : ", '") : "'") + hint[i] + "'";
          text += "?)";
        } else {
          text += topics.empty() ? " (it has no topics)" : " (" + std::to_string(topics.size()) + " topics there)";
        }
        problems.push_back({c.place("topics"), text});
      }
    }
  }
  if (c.has("registry") && !c.string("registry").empty())
    if (auto why = reach::http_unreachable(c.string("registry"), timeout))
      problems.push_back({c.place("registry"), "cannot reach the schema registry " + c.string("registry") + ": " + *why});
}

}  // namespace

void check_kafka_connect(const ActorConfig& c, std::vector<Problem>& problems) { check_connect(c, problems, false); }

void check_kafka_consumer_connect(const ActorConfig& c, std::vector<Problem>& problems) {
  check_connect(c, problems, true);
}

EmbeddedBroker::EmbeddedBroker(int brokers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  route_logs_to_spdlog(conf);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!rk) unimplemented("embedded broker", error);
  host_.reset(rk);
  cluster_ = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster_) unimplemented("embedded broker", "librdkafka could not start its mock cluster");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
}

void EmbeddedBroker::create_topic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err) fail("embedded broker topic " + topic, rd_kafka_err2str(err));
}

Publisher::Publisher(std::map<std::string, std::string> properties, std::string topic) : topic_(std::move(topic)) {
  properties.emplace("enable.idempotence", "true");
  properties.emplace("linger.ms", "5");
  // Messages without a key go to a random partition each, not in sticky runs: replays spread
  // over every partition (the embedded broker keeps only ~5 MiB per partition).
  properties.emplace("sticky.partitioning.linger.ms", "0");
  rd_kafka_conf_t* conf = make_conf(properties, "kafka producer");
  rd_kafka_conf_set_dr_msg_cb(conf, &Publisher::on_delivery);
  rd_kafka_conf_set_opaque(conf, this);
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!rk) fail("kafka producer", error);
  rk_.reset(rk);
}

Publisher::~Publisher() = default;

void Publisher::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<Publisher*>(opaque);
  if (message->err) {
    ++self->failed_;
    if (self->first_error_.empty()) self->first_error_ = rd_kafka_err2str(message->err);
  } else {
    ++self->delivered_;
    if (const auto tag = reinterpret_cast<uintptr_t>(message->_private)) self->delivered_tags_.push_back(tag);
  }
}

std::vector<uint64_t> Publisher::take_delivered_tags() {
  std::vector<uint64_t> out;
  out.swap(delivered_tags_);
  return out;
}

void Publisher::publish(std::string_view value, std::string_view key, uint64_t tag) {
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(tag))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_.get(), 50);
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
      fail(topic_, "a message of " + std::to_string(value.size()) + " bytes is larger than message.max.bytes");
    if (err) fail(topic_, std::string("produce: ") + rd_kafka_err2str(err));
    rd_kafka_poll(rk_.get(), 0);
    return;
  }
}

void Publisher::flush_reports(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count()));
  if (err) disconnected(topic_, std::string("flush: ") + rd_kafka_err2str(err));
}

bool Publisher::reports_in(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void Publisher::flush(std::chrono::milliseconds timeout) {
  flush_reports(timeout);
  if (failed_ > 0)
    disconnected(topic_, std::to_string(failed_) + " messages not delivered: " + first_error_);
}

}  // namespace ebs::kafka
