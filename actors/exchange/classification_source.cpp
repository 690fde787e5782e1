// `classification-kafka`: other brokers' ELAsTiCC brokerClassification messages from Kafka topics.
#include "actors/common/elasticc/broker_classification.h"
#include "actors/common/kafka/kafka_source.h"
#include "actors/exchange/exchange_actors.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::exchange {

namespace {

class ClassificationDecoder final : public KafkaMessageDecoder {
 public:
  explicit ClassificationDecoder(bool confluent) : confluent_(confluent) {}

  void decode(const std::shared_ptr<const std::string>& message, std::string_view place, std::vector<RecordPtr>& out,
              std::vector<ingest::IngestFailure>& failures) override {
    try {
      std::string_view datum = *message;
      if (confluent_) {
        if (datum.size() < 5 || datum[0] != 0)
          fail(std::string(place), "not a Confluent frame (byte 0 must be 0, then a 4-byte schema id)");
        datum.remove_prefix(5);
      }
      out.push_back(codec_.decode(datum, place));
    } catch (const Fault& fault) {
      failures.push_back({fault, *message, "avro"});
    }
  }

 private:
  bool confluent_;
  elasticc::BrokerClassificationCodec codec_;
};

}  // namespace

void register_classification_source(ActorRegistry& registry) {
  KafkaMessageSourceSpec spec;
  spec.name = "classification-kafka";
  spec.description = "Other brokers' classifications (ELAsTiCC brokerClassification Avro, v0.9.1) from Kafka topics";
  spec.output = {"classifications", PortType::classification, "one Classification per message"};
  spec.input_time_scale = "utc";  // the messages' timestamps are ms since 1970 UTC, kept as they are
  spec.config = {{"wire", ValueKind::string, false, "bare",
                  "bare (one Avro datum per message, as ELAsTiCC brokers publish) or confluent (0, 4-byte schema id, datum)"}};
  spec.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    std::string wire = c.string("wire");
    if (wire != "bare" && wire != "confluent")
      problems.push_back({c.place("wire"), "wire must be bare or confluent, not '" + wire + "'"});
  };
  spec.make_decoder = [](const ActorContext& context) -> std::unique_ptr<KafkaMessageDecoder> {
    return std::make_unique<ClassificationDecoder>(context.config.string("wire") == "confluent");
  };
  register_kafka_message_source(registry, std::move(spec));
}

}  // namespace ebs::exchange
