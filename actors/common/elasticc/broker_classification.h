// Classifications in the DESC ELAsTiCC `brokerClassification` Avro shape
// (schemas/elasticc.v0_9_1.brokerClassification.avsc, compiled in), through libavro (avro-c):
// what the kafka-sink's `elasticc` format writes and the `classification-kafka` source reads.
// A message is one bare Avro datum (as ELAsTiCC brokers published them) or, with `confluent`
// framing, a Confluent frame (byte 0, 4-byte schema id, datum).
//
// One codec per actor instance (libavro values are not shared between threads).
#pragma once

#include <avro.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/model/record.h"

namespace ebs::elasticc {

// The schema's JSON text (the file, unchanged).
std::string_view broker_classification_schema();

class BrokerClassificationCodec {
 public:
  BrokerClassificationCodec();
  ~BrokerClassificationCodec();
  BrokerClassificationCodec(const BrokerClassificationCodec&) = delete;
  BrokerClassificationCodec& operator=(const BrokerClassificationCodec&) = delete;

  // The Avro binary datum of `c`.
  std::string encode(const Classification& c);
  // One datum (the whole of `bytes`) as a Classification; a `failed` Fault naming `place` when
  // the bytes are not one datum of the schema (short, trailing bytes, bad values).
  std::shared_ptr<Classification> decode(std::string_view bytes, std::string_view place);

 private:
  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* class_ = nullptr;
  avro_value_t value_{};
};

}  // namespace ebs::elasticc
