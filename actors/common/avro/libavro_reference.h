// libavro (avro-c 1.11) as an independent reference, for tests and the benchmark only (never in
// the decoding path): read containers and single datums with its generic values, compare them
// with our RawRecords field by field, and re-encode containers with another codec.
#pragma once

#include <avro.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/raw_record.h"

namespace ebs::avro::reference {

// Reads every record of a container file held in memory (as a broker would: the embedded schema
// is parsed for each call). Raises std::runtime_error on libavro errors.
void for_each_record(std::string_view container_bytes,
                     const std::function<void(avro_value_t&)>& visit);

// Reads one binary datum (no framing) written with `schema_json`.
void read_datum(std::string_view schema_json, std::string_view body,
                const std::function<void(avro_value_t&)>& visit);

// "" when `actual` holds exactly libavro's value (every field, recursively; floats bit for bit),
// else the path of the first difference and what differs.
std::string compare(avro_value_t& expected, RawView actual, const std::string& path = "");

// Writes the records of the containers `in_paths` (which share one writer schema) into one
// container `out_path` with `codec` ("null", "deflate", "snappy"), in blocks of `block_size` bytes.
void rewrite_with_codec(const std::vector<std::string>& in_paths, const std::string& out_path,
                        const char* codec, size_t block_size = 1 << 20);

// Owns an avro_schema_t / generic value pair for repeated reads of one schema.
class GenericReader {
 public:
  explicit GenericReader(std::string_view schema_json);
  ~GenericReader();
  GenericReader(const GenericReader&) = delete;
  GenericReader& operator=(const GenericReader&) = delete;
  // Reads one datum into the reusable value.
  avro_value_t& read(std::string_view body);

 private:
  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* iface_ = nullptr;
  avro_value_t value_{};
  avro_reader_t reader_ = nullptr;
};

}  // namespace ebs::avro::reference
