// Avro alert messages: Object Container Files (any codec) and Confluent frames, decoded as a
// Kafka source or `avro-files` would, then rendered as JSON like `ebs-flow decode`.
#include <memory>
#include <string>
#include <vector>

#include "actors/common/avro/decoder.h"
#include "actors/common/avro/json_output.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  static ebs::avro::Decoder decoder;
  std::vector<ebs::RawRecord> records;
  auto message = std::make_shared<const std::string>(bytes);
  decoder.decode(message, "fuzz", records);
  for (const ebs::RawRecord& record : records) (void)ebs::avro::to_json(record, false);
}
