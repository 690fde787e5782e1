// Avro alert messages: Object Container Files (any codec) and Confluent frames (Rubin's schema
// ids, writer schemas from the shared data's lsst/schema directory), decoded as a Kafka source or
// `avro-files` would, then rendered as JSON like `ebs-flow decode`.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "actors/common/avro/decoder.h"
#include "actors/common/avro/json_output.h"
#include "fuzz/fuzz_target.h"

namespace {

ebs::avro::Decoder& decoder() {
  static ebs::avro::Decoder d = [] {
    const char* data = std::getenv("EBS_TEST_DATA");
    const std::filesystem::path schemas = std::filesystem::path(data ? data : EBS_DEFAULT_TEST_DATA) / "lsst/schema";
    return ebs::avro::Decoder(ebs::avro::DecoderSources{
        std::make_shared<ebs::avro::SchemaCache>(),
        std::make_shared<const ebs::avro::SchemaDirectory>(ebs::avro::SchemaDirectory::load(schemas)), nullptr});
  }();
  return d;
}

}  // namespace

EBS_FUZZ_ONE_INPUT(bytes) {
  std::vector<ebs::RawRecord> records;
  auto message = std::make_shared<const std::string>(bytes);
  decoder().decode(message, "fuzz", records);
  for (const ebs::RawRecord& record : records) (void)ebs::avro::to_json(record, false);
}
