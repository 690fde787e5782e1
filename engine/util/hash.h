// A stable 64-bit content hash (FNV-1a) for provenance: the same bytes give the same hash on
// every machine and in every release, unlike std::hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ebs {

// FNV-1a fed in pieces: the hash of the pieces one after another, without joining them first.
class Fnv1a64 {
 public:
  Fnv1a64& add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 1099511628211ull;
    }
    return *this;
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 1469598103934665603ull;
};

inline uint64_t fnv1a64(std::string_view bytes) { return Fnv1a64().add(bytes).value(); }

// The 16 lowercase hex digits of `value` (printf's "%016llx") written to out[0, 16).
inline void write_hex64(char* out, uint64_t value) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, value >>= 4) out[i] = kHex[value & 0xf];
}

inline std::string hex64(uint64_t value) {
  char text[16];
  write_hex64(text, value);
  return std::string(text, sizeof text);
}

}  // namespace ebs
