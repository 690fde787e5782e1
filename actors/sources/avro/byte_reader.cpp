#include "actors/sources/avro/byte_reader.h"

#include "engine/util/fault.h"

namespace ebs::avro {

void ByteReader::fail_at(const char* at, const std::string& message) const {
  uint64_t offset = base_offset_ + static_cast<uint64_t>(at - begin_);
  std::string place = std::string(place_) + ":byte " + std::to_string(offset);
  if (!region_.empty()) place += " " + region_;
  ebs::fail(std::move(place), message);
}

}  // namespace ebs::avro
