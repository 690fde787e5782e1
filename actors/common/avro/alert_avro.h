// Alerts as Avro in ebs-flow's own alert schema (schemas/ebs_alert.avsc, `ebs.alert` 1.0, compiled
// in), written with libavro (avro-c): the kafka-sink's `avro` and `avro-confluent` formats, which
// other brokers read and the `ebs-alert-1` survey profile reads back. NaN values are written null;
// the raw survey record goes in `raw_json` only with `with_raw`.
//
// One encoder per sink instance (libavro values are not shared between threads).
#pragma once

#include <avro.h>

#include <string>
#include <string_view>

#include "engine/model/record.h"

namespace ebs::kafka {

// The schema's JSON text.
std::string_view alert_avro_schema();

class AlertAvroEncoder {
 public:
  struct Options {
    bool with_raw = false;
    std::string codec = "null";  // container codec: null, deflate or snappy
  };

  explicit AlertAvroEncoder(Options options);
  ~AlertAvroEncoder();
  AlertAvroEncoder(const AlertAvroEncoder&) = delete;
  AlertAvroEncoder& operator=(const AlertAvroEncoder&) = delete;

  // The Avro binary datum of `alert` (the body of a Confluent frame).
  std::string datum(const Alert& alert);
  // An Avro object container holding the writer schema and `alert`: a whole message, as ZTF sends.
  std::string container(const Alert& alert);

 private:
  void fill(const Alert& alert);

  Options options_;
  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* class_ = nullptr;
  avro_value_t value_{};
};

}  // namespace ebs::kafka
