#include "actors/sources/notices/gcn_kafka_source.h"

#include "actors/common/notices/notice.h"
#include "engine/runtime/actor_logic.h"

namespace ebs::sources {

using namespace ebs::notices;  // GCN notices -> SkyEvents (actors/common/notices)

namespace {

class NoticeDecoder final : public KafkaMessageDecoder {
 public:
  NoticeDecoder(bool keep_test, bool significant_only) : keep_test_(keep_test), significant_only_(significant_only) {}

  void decode(const std::shared_ptr<const std::string>& message, std::string_view place, std::vector<RecordPtr>& out,
              std::vector<ingest::IngestFailure>& failures) override {
    try {
      for (auto& event : parse_notice(*message, std::string(place)))
        if (drop_reason(*event, keep_test_, significant_only_).empty()) out.push_back(std::move(event));
    } catch (const std::exception& error) {
      // Whatever a poisoned notice makes the parser throw (a declared size too big to allocate,
      // ...) is this notice's dead letter, never the end of the source.
      Fault fault = to_fault(error, std::string(place));
      size_t first = message->find_first_not_of(" \t\r\n");
      bool json = first != std::string::npos && (*message)[first] == '{';
      failures.push_back({fault, *message, json ? "json" : "bytes"});
    }
  }

 private:
  bool keep_test_;
  bool significant_only_;
};

}  // namespace

std::unique_ptr<KafkaMessageDecoder> make_notice_decoder(bool keep_test, bool significant_only) {
  return std::make_unique<NoticeDecoder>(keep_test, significant_only);
}

void register_gcn_kafka_source(ActorRegistry& registry) {
  KafkaMessageSourceSpec spec;
  spec.name = "gcn-kafka";
  spec.description = "GCN notices (GCN Kafka JSON, LVK igwn.gwalert, VOEvent XML) from Kafka topics as sky events";
  spec.output = {"events", PortType::sky_event, "one SkyEvent per notice (several for a neutrino track search)"};
  spec.input_time_scale = "utc";  // ISO 8601 UTC, converted once to MJD TAI by parse_notice
  spec.config = {{"keep_test", ValueKind::boolean, false, "false", "keep mock/test/MDC events (flagged test: true)"},
                 {"significant_only", ValueKind::boolean, false, "false", "drop notices with significant: false"}};
  spec.make_decoder = [](const ActorContext& context) {
    return make_notice_decoder(context.config.boolean("keep_test"), context.config.boolean("significant_only"));
  };
  register_kafka_message_source(registry, std::move(spec));
}

}  // namespace ebs::sources
