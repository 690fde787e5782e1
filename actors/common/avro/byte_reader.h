// A bounds-checked cursor over Avro binary data. Every read checks the end of the buffer, so
// corrupt or truncated input raises a Fault naming the input and the byte offset, never a read
// past the buffer. The hot reads are inline: the decoder calls them once per field.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ebs::avro {

class ByteReader {
 public:
  // `place` names the input ("alerts/123.avro", "topic/0/42"); `base_offset` is the offset of
  // `data` in that input. `region` (optional) says the bytes are not the input's own, e.g.
  // "of the deflate block at byte 1234" for decompressed data.
  ByteReader(std::string_view data, std::string_view place, uint64_t base_offset = 0,
             std::string region = {})
      : begin_(data.data()),
        pos_(data.data()),
        end_(data.data() + data.size()),
        place_(place),
        base_offset_(base_offset),
        region_(std::move(region)) {}

  uint64_t offset() const { return base_offset_ + static_cast<uint64_t>(pos_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - pos_); }
  bool at_end() const { return pos_ == end_; }
  const char* position() const { return pos_; }
  const char* end() const { return end_; }
  void seek(const char* p) { pos_ = p; }
  std::string_view place() const { return place_; }

  // Zig-zag varint of at most 10 bytes (Avro long). Most are one byte (union indexes, small
  // ints): that path is inline, the rest goes out of line.
  int64_t read_long() {
    const char* p = pos_;
    if (p != end_ && !(static_cast<uint8_t>(*p) & 0x80)) [[likely]] {
      uint64_t v = static_cast<uint8_t>(*p);
      pos_ = p + 1;
      return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
    }
    return read_long_multibyte();
  }

  int32_t read_int() {
    const char* start = pos_;
    int64_t v = read_long();
    if (v < INT32_MIN || v > INT32_MAX) fail_at(start, "int value out of 32-bit range");
    return static_cast<int32_t>(v);
  }

  bool read_boolean() {
    need(1);
    auto b = static_cast<uint8_t>(*pos_);
    if (b > 1) fail_at(pos_, "boolean byte is " + std::to_string(b) + ", not 0 or 1");
    ++pos_;
    return b == 1;
  }

  float read_float() {
    need(4);
    float v;
    std::memcpy(&v, pos_, 4);  // Avro floats are little-endian, as is every host we build for
    pos_ += 4;
    return v;
  }

  double read_double() {
    need(8);
    double v;
    std::memcpy(&v, pos_, 8);
    pos_ += 8;
    return v;
  }

  // Length-prefixed bytes or string: a view into the buffer.
  std::string_view read_bytes() {
    const char* start = pos_;
    int64_t n = read_long();
    if (n < 0) fail_at(start, "negative length " + std::to_string(n));
    if (static_cast<uint64_t>(n) > remaining())
      fail_at(start, "length " + std::to_string(n) + " runs past the end (" +
                         std::to_string(remaining()) + " bytes left)");
    std::string_view v(pos_, static_cast<size_t>(n));
    pos_ += n;
    return v;
  }

  std::string_view read_fixed(size_t n) {
    need(n);
    std::string_view v(pos_, n);
    pos_ += n;
    return v;
  }

  void skip(size_t n) {
    need(n);
    pos_ += n;
  }

  // Raises a `failed` Fault at the cursor (or at `at`): place "INPUT:byte N".
  [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }
  [[noreturn]] void fail_at(const char* at, const std::string& message) const;

 private:
  int64_t read_long_multibyte();

  void need(size_t n) const {
    if (remaining() < n)
      fail_at(pos_, "truncated: need " + std::to_string(n) + " bytes, " +
                        std::to_string(remaining()) + " left");
  }

  const char* begin_;
  const char* pos_;
  const char* end_;
  std::string_view place_;
  uint64_t base_offset_;
  std::string region_;
};

}  // namespace ebs::avro
