#include "engine/util/base64.h"

#include <array>
#include <cctype>
#include <cstdint>

#include "engine/util/fault.h"

namespace ebs {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_decode_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto kDecode = make_decode_table();
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text, const std::string& place) {
  // Each group of four characters gives at most three bytes; blanks give none.
  std::string out(text.size() / 4 * 3, '\0');
  char* written = out.data();
  uint32_t group = 0;
  int filled = 0;   // characters in the current group of 4
  int padding = 0;  // '=' seen
  for (size_t i = 0; i < text.size(); ++i) {
    // Between groups, whole groups of four alphabet characters (all of a sky map but its end)
    // four at a time; a blank, '=' or a bad character takes the character-by-character path.
    if (filled == 0) {
      for (; i + 4 <= text.size(); i += 4) {
        int32_t a = kDecode[static_cast<unsigned char>(text[i])], b = kDecode[static_cast<unsigned char>(text[i + 1])],
                c = kDecode[static_cast<unsigned char>(text[i + 2])], d = kDecode[static_cast<unsigned char>(text[i + 3])];
        if ((a | b | c | d) < 0) break;
        uint32_t n = static_cast<uint32_t>(a) << 18 | static_cast<uint32_t>(b) << 12 | static_cast<uint32_t>(c) << 6 |
                     static_cast<uint32_t>(d);
        written[0] = static_cast<char>(n >> 16);
        written[1] = static_cast<char>((n >> 8) & 0xff);
        written[2] = static_cast<char>(n & 0xff);
        written += 3;
      }
      if (i == text.size()) break;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      if (filled < 2) fail(place, "invalid base64: misplaced '=' at offset " + std::to_string(i));
      ++padding;
      ++filled;
      group <<= 6;
    } else {
      int8_t v = kDecode[c];
      if (v < 0) fail(place, "invalid base64: invalid character at offset " + std::to_string(i));
      if (padding) fail(place, "invalid base64: data after padding at offset " + std::to_string(i));
      group = (group << 6) | static_cast<uint32_t>(v);
      ++filled;
    }
    if (filled == 4) {
      *written++ = static_cast<char>(group >> 16);
      if (padding < 2) *written++ = static_cast<char>((group >> 8) & 0xff);
      if (padding < 1) *written++ = static_cast<char>(group & 0xff);
      if (padding) {
        // Only whitespace may follow a padded group.
        for (size_t j = i + 1; j < text.size(); ++j)
          if (!std::isspace(static_cast<unsigned char>(text[j])))
            fail(place, "invalid base64: data after padding at offset " + std::to_string(j));
        out.resize(static_cast<size_t>(written - out.data()));
        return out;
      }
      group = 0;
      filled = 0;
    }
  }
  if (filled != 0) fail(place, "invalid base64: truncated input (length is not a multiple of 4)");
  out.resize(static_cast<size_t>(written - out.data()));
  return out;
}

}  // namespace ebs
