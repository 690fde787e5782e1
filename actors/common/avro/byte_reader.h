// A bounds-checked cursor over Avro binary data. Every read checks the end of the buffer, so
// corrupt or truncated input raises a Fault naming the input and the byte offset, never a read
// past the buffer. The hot reads are inline: the decoder calls them once per field.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ebs::avro {

// Avro floats and doubles are little-endian and are copied as they are.
static_assert(std::endian::native == std::endian::little, "ebs-flow reads Avro on little-endian hosts only");

// The rules of Avro's binary encoding that decide what is accepted, in one place for the
// ByteReader and the decoder's register-held cursor (datum_decoder.cpp), so the two cannot differ.

// A varint from `b`, which must have 10 readable bytes: its length (1-10) and its bits in `v`, the
// tenth byte's bits past 64 dropped; 0 when it is longer than 10 bytes.
inline int decode_varint10(const uint8_t* b, uint64_t& v) {
  v = b[0];
  if (v < 0x80) [[likely]] return 1;
  v &= 0x7f;
  for (int i = 1; i < 10; ++i) {
    uint64_t byte = b[i];
    v |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) return i + 1;
  }
  return 0;
}
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }
inline bool fits_int32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
inline bool is_boolean_byte(uint8_t b) { return b <= 1; }
// A bytes or string length: not negative and within the `left` bytes after it.
inline bool length_fits(int64_t n, size_t left) { return static_cast<uint64_t>(n) <= left; }

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
    if (p != end_ && static_cast<uint8_t>(*p) < 0x80) [[likely]] {
      pos_ = p + 1;
      return unzigzag(static_cast<uint8_t>(*p));
    }
    return read_long_multibyte();
  }

  int32_t read_int() {
    const char* start = pos_;
    int64_t v = read_long();
    if (!fits_int32(v)) fail_at(start, "int value out of 32-bit range");
    return static_cast<int32_t>(v);
  }

  bool read_boolean() {
    need(1);
    auto b = static_cast<uint8_t>(*pos_);
    if (!is_boolean_byte(b)) fail_at(pos_, "boolean byte is " + std::to_string(b) + ", not 0 or 1");
    ++pos_;
    return b == 1;
  }

  float read_float() {
    need(4);
    float v;
    std::memcpy(&v, pos_, 4);
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
    if (!length_fits(n, remaining())) [[unlikely]] fail_length(start, n);
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
  [[noreturn]] void fail_length(const char* at, int64_t n) const;

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
