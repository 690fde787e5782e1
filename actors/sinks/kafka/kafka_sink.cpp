#include "actors/sinks/kafka/kafka_sink.h"

#include <list>
#include <optional>

#include "actors/common/elasticc/broker_classification.h"
#include "actors/common/avro/alert_avro.h"
#include "actors/common/avro/schema_registration.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/replay.h"
#include "engine/model/record_json.h"
#include "engine/runtime/actor_logic.h"

namespace ebs {

namespace {

class KafkaSink final : public ActorLogic {
 public:
  ~KafkaSink() override {
    // Undelivered batches are dropped unacknowledged only if the run is torn down: an
    // at-least-once source then replays them.
    if (rk_) rd_kafka_flush(rk_.get(), 5000);
  }

  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    topic_ = c.string("topic");
    place_ = c.place("topic");
    options_.with_raw = c.boolean("with_raw");
    options_.with_bytes = c.boolean("with_bytes");
    format_ = c.string("format");
    if (format_ == "elasticc") {
      classification_codec_ = std::make_unique<elasticc::BrokerClassificationCodec>();
    } else if (format_ != "json") {
      encoder_ = std::make_unique<kafka::AlertAvroEncoder>(
          kafka::AlertAvroEncoder::Options{c.boolean("with_raw"), c.string("codec")});
      registry_ = c.has("registry") ? c.string("registry") : "";
      subject_ = c.has("subject") && !c.string("subject").empty() ? c.string("subject") : topic_ + "-value";
    }
    auto properties = kafka::properties_from(c);
    properties["enable.idempotence"] = "true";
    properties.emplace("linger.ms", "5");
    properties.emplace("client.id", "ebs-flow-" + context.actor_id + "-" + std::to_string(context.instance));
    rd_kafka_conf_t* conf = kafka::make_conf(properties, c.place("properties"));
    rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::on_delivery);
    char error[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!rk) fail(c.place("properties"), std::string("kafka producer: ") + error);
    rk_.reset(rk);
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    pending_.emplace_back();
    Pending& p = pending_.back();
    p.batch = batch;
    p.outstanding = batch.size();
    p.reports.resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      p.reports[i] = {&p, static_cast<uint32_t>(i)};
      std::string value;
      try {
        value = encode(batch[i]);
      } catch (const Fault& fault) {  // not an alert for Avro, or no registry: a dead letter
        p.faults.emplace_back(static_cast<uint32_t>(i), fault);
        --p.outstanding;
        continue;
      }
      std::string_view key = batch[i].key();
      for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_VALUE(value.data(), value.size()),
            RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&p.reports[i]), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {  // back-pressure: wait for deliveries
          rd_kafka_poll(rk_.get(), 50);
          continue;
        }
        if (err) report(p, i, err);
        break;
      }
    }
    rd_kafka_poll(rk_.get(), 0);
    settle(out);
  }

  std::chrono::microseconds tick_interval() const override { return std::chrono::microseconds(20000); }
  void on_tick(Emitter& out) override {
    rd_kafka_poll(rk_.get(), 0);
    settle(out);
  }
  void on_end_of_stream(Emitter& out) override {
    rd_kafka_flush(rk_.get(), 30000);
    settle(out);
  }

  std::string output() const override { return "kafka topic " + topic_; }

 private:
  std::string encode(const Record& record) {
    if (format_ == "json") return to_json(record, options_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (format_ == "elasticc") {
      if (record.type() != PortType::classification)
        fail(place_, "format elasticc publishes Classifications (the `classifications` actor makes them), not " +
                         std::string(to_string(record.type())));
      return classification_codec_->encode(static_cast<const Classification&>(record));
    }
    if (record.type() != PortType::alert)
      fail(place_, "format " + format_ + " publishes alerts, not " + std::string(to_string(record.type())));
    const auto& alert = static_cast<const Alert&>(record);
    if (format_ == "avro") return encoder_->container(alert);
    // The id is asked once; until the registry answers, records fail (disconnected) and retry
    // with the next batch.
    if (!schema_id_) schema_id_ = kafka::register_schema(registry_, subject_, std::string(kafka::alert_avro_schema()));
    return kafka::confluent_frame(*schema_id_, encoder_->datum(alert));
  }

  struct Pending;
  struct Report {
    Pending* pending;
    uint32_t index;
  };
  struct Pending {
    BatchView batch;
    size_t outstanding = 0;
    std::vector<Report> reports;
    std::vector<std::pair<uint32_t, rd_kafka_resp_err_t>> failures;
    std::vector<std::pair<uint32_t, Fault>> faults;  // not encoded
  };

  static void report(Pending& p, size_t index, rd_kafka_resp_err_t err) {
    if (err) p.failures.emplace_back(static_cast<uint32_t>(index), err);
    --p.outstanding;
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    auto* r = static_cast<Report*>(message->_private);
    report(*r->pending, r->index, message->err);
  }

  // Batches with every report in: delivered ones count, failed ones become dead letters; then
  // the batch is dropped, which acknowledges it.
  void settle(Emitter& out) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->outstanding > 0) {
        ++it;
        continue;
      }
      out.delivered(it->batch.size() - it->failures.size() - it->faults.size());
      for (const auto& [index, err] : it->failures)
        out.failed(it->batch.record(index), Fault(FaultKind::disconnected, topic_, std::string("delivery failed: ") + rd_kafka_err2str(err)),
                   it->batch.acks());
      for (const auto& [index, fault] : it->faults) out.failed(it->batch.record(index), fault, it->batch.acks());
      it = pending_.erase(it);
    }
  }

  std::string topic_, place_;
  JsonOptions options_;
  std::string format_ = "json";
  std::unique_ptr<kafka::AlertAvroEncoder> encoder_;
  std::unique_ptr<elasticc::BrokerClassificationCodec> classification_codec_;
  std::string registry_, subject_;
  std::optional<uint32_t> schema_id_;
  kafka::KafkaHandle rk_;
  std::list<Pending> pending_;  // a list: reports point into its elements
};

}  // namespace

void register_kafka_sink(ActorRegistry& registry) {
  ActorType t;
  t.name = "kafka-sink";
  t.description = "Publishes records to a Kafka topic as JSON or Avro (container, or Confluent frame with a registered schema; Classifications as ELAsTiCC brokerClassification), keyed by object id (idempotent producer, acks on delivery)";
  t.version = "1.0";
  t.inputs = {{"in", PortType::any, "records to publish"}};
  t.blocking = true;
  t.config = {
      {"topic", ValueKind::string, true, "", "Kafka topic"},
      {"format", ValueKind::string, false, "json", "json, avro (an Avro container per message, schema inside), avro-confluent (Confluent frame, schema registered) or elasticc (Classifications as bare ELAsTiCC brokerClassification Avro datums, docs/exchange.md)"},
      {"with_raw", ValueKind::boolean, false, "true", "include the raw survey record (avro: as JSON text in raw_json)"},
      {"with_bytes", ValueKind::boolean, false, "false", "json: bytes (cutouts) as base64 instead of their length (avro always carries them)"},
      {"codec", ValueKind::string, false, "\"null\"", "avro: container codec null, deflate or snappy"},
      {"registry", ValueKind::string, false, "", "avro-confluent: schema registry URL"},
      {"subject", ValueKind::string, false, "", "avro-confluent: registry subject (default <topic>-value)"},
  };
  for (ConfigKey& k : kafka::property_config_keys()) t.config.push_back(std::move(k));
  t.check_connect = kafka::check_kafka_connect;
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    if (kafka::properties_from(c).count("bootstrap.servers") == 0)
      problems.push_back({c.place("topic"), "no bootstrap.servers (properties or flat key)"});
    std::string format = c.string("format");
    if (format != "json" && format != "avro" && format != "avro-confluent" && format != "elasticc")
      problems.push_back({c.place("format"), "format must be json, avro, avro-confluent or elasticc, not '" + format + "'"});
    if (format == "avro-confluent" && (!c.has("registry") || c.string("registry").empty()))
      problems.push_back({c.place("format"), "format avro-confluent needs registry (a schema registry URL)"});
    std::string codec = c.string("codec");
    if (codec != "null" && codec != "deflate" && codec != "snappy")
      problems.push_back({c.place("codec"), "codec must be null, deflate or snappy, not '" + codec + "'"});
  };
  t.create = [](const ActorContext&) { return std::make_unique<KafkaSink>(); };
  // Alerts are published whole (Avro with the cutouts, JSON with their length).
  t.uses_cutouts = [](const ActorConfig&, const std::vector<std::string>&) { return true; };
  registry.add(std::move(t));
}

}  // namespace ebs
