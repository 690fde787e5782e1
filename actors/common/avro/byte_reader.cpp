#include "actors/common/avro/byte_reader.h"

#include "engine/util/fault.h"

namespace ebs::avro {

int64_t ByteReader::read_long_multibyte() {
  const char* p = pos_;
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    if (shift >= 70) fail_at(pos_, "varint longer than 10 bytes");
    if (p == end_) fail_at(pos_, "truncated varint");
    auto b = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  pos_ = p;
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

void ByteReader::fail_at(const char* at, const std::string& message) const {
  uint64_t offset = base_offset_ + static_cast<uint64_t>(at - begin_);
  std::string place = std::string(place_) + ":byte " + std::to_string(offset);
  if (!region_.empty()) place += " " + region_;
  ebs::fail(std::move(place), message);
}

}  // namespace ebs::avro
