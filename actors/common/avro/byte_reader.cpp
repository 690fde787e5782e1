#include "actors/common/avro/byte_reader.h"

#include "engine/util/fault.h"

namespace ebs::avro {

int64_t ByteReader::read_long_multibyte() {
  // Fewer than ten bytes left: they are read from a copy padded with zero bytes (each of which
  // ends a varint), and a varint that ends in the padding is truncated.
  uint8_t padded[10] = {};
  const auto* b = reinterpret_cast<const uint8_t*>(pos_);
  const size_t left = remaining();
  if (left < sizeof padded) {
    std::memcpy(padded, pos_, left);
    b = padded;
  }
  uint64_t v;
  const int length = decode_varint10(b, v);
  if (length == 0) fail_at(pos_, "varint longer than 10 bytes");
  if (static_cast<size_t>(length) > left) fail_at(pos_, "truncated varint");
  pos_ += length;
  return unzigzag(v);
}

void ByteReader::fail_length(const char* at, int64_t n) const {
  if (n < 0) fail_at(at, "negative length " + std::to_string(n));
  fail_at(at, "length " + std::to_string(n) + " runs past the end (" + std::to_string(remaining()) +
                  " bytes left)");
}

void ByteReader::fail_at(const char* at, const std::string& message) const {
  uint64_t offset = base_offset_ + static_cast<uint64_t>(at - begin_);
  std::string place = std::string(place_) + ":byte " + std::to_string(offset);
  if (!region_.empty()) place += " " + region_;
  ebs::fail(std::move(place), message);
}

}  // namespace ebs::avro
