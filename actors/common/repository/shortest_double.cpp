#include "actors/common/repository/shortest_double.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "engine/util/fault.h"

// fmt::detail::dragonbox::to_decimal is not {fmt}'s public API: it may change with any major
// version. Checked with fmt 9 (Debian 12's 9.1).
static_assert(FMT_VERSION / 10000 == 9,
              "shortest_double.cpp calls fmt::detail::dragonbox::to_decimal, checked with fmt 9 only. On "
              "another major version check that it still exists and returns the shortest significand "
              "without trailing zeros with its decimal exponent (value == significand * 10^exponent), "
              "run repository_store_test's shortest-double cases, then widen this assert.");

namespace ebs::repository {

namespace {

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

constexpr uint64_t kPowersOfTen[] = {1ull,
                                    10ull,
                                    100ull,
                                    1000ull,
                                    10000ull,
                                    100000ull,
                                    1000000ull,
                                    10000000ull,
                                    100000000ull,
                                    1000000000ull,
                                    10000000000ull,
                                    100000000000ull,
                                    1000000000000ull,
                                    10000000000000ull,
                                    100000000000000ull,
                                    1000000000000000ull,
                                    10000000000000000ull,
                                    100000000000000000ull,
                                    1000000000000000000ull,
                                    10000000000000000000ull};

// Digits of a non-zero value: from its bit length (log10(2) ~ 1233 / 4096), one comparison.
int decimal_digits(uint64_t value) {
  const int guess = ((64 - __builtin_clzll(value)) * 1233) >> 12;
  return guess + (value >= kPowersOfTen[guess] ? 1 : 0);
}

// Writes the `count` decimal digits of `value` (< 10^8) to out[0, count), two at a time in
// 32-bit arithmetic.
void write_small_digits(char* out, uint32_t value, int count) {
  char* p = out + count;
  while (value >= 100) {
    p -= 2;
    std::memcpy(p, kDigitPairs + 2 * (value % 100), 2);
    value /= 100;
  }
  if (value >= 10) {
    p -= 2;
    std::memcpy(p, kDigitPairs + 2 * value, 2);
  } else {
    *--p = static_cast<char>('0' + value);
  }
}

// Exactly 8 digits of `value` (< 10^8), leading zeros kept.
void write_eight_digits(char* out, uint32_t value) {
  const uint32_t high = value / 10000, low = value % 10000;
  std::memcpy(out, kDigitPairs + 2 * (high / 100), 2);
  std::memcpy(out + 2, kDigitPairs + 2 * (high % 100), 2);
  std::memcpy(out + 4, kDigitPairs + 2 * (low / 100), 2);
  std::memcpy(out + 6, kDigitPairs + 2 * (low % 100), 2);
}

// Writes the `count` decimal digits of `value` to out[0, count) (a significand: at most 17).
void write_digits(char* out, uint64_t value, int count) {
  constexpr uint64_t kEight = 100000000;
  if (count <= 8) {
    write_small_digits(out, static_cast<uint32_t>(value), count);
  } else if (count <= 16) {
    write_small_digits(out, static_cast<uint32_t>(value / kEight), count - 8);
    write_eight_digits(out + count - 8, static_cast<uint32_t>(value % kEight));
  } else {
    const uint64_t upper = value / kEight;
    write_small_digits(out, static_cast<uint32_t>(upper / kEight), count - 16);
    write_eight_digits(out + count - 16, static_cast<uint32_t>(upper % kEight));
    write_eight_digits(out + count - 8, static_cast<uint32_t>(value % kEight));
  }
}

}  // namespace

char* write_shortest_double(char* out, double value) {
  char* const start = out;  // the buffer's first byte: its kShortestDoubleChars end here
  if (std::signbit(value)) {
    *out++ = '-';
    value = -value;
  }
  if (value == 0) {
    *out++ = '0';
    return out;
  }
  // value == significand * 10^exponent, the significand without trailing zeros.
  const auto decimal = fmt::detail::dragonbox::to_decimal(value);
  const uint64_t significand = decimal.significand;
  const int exponent = decimal.exponent;
  const int digits = decimal_digits(significand);
  const int scientific_exponent = digits - 1 + exponent;
  const int exponent_digits = scientific_exponent >= 100 || scientific_exponent <= -100 ? 3 : 2;
  const int scientific_length = digits + (digits > 1 ? 1 : 0) + 2 + exponent_digits;
  const int fixed_length = exponent >= 0 ? digits + exponent : scientific_exponent >= 0 ? digits + 1 : 2 - exponent;

  if (fixed_length <= scientific_length) {
    if (exponent >= 0) {
      // Above 2^53 to_chars writes the integer's exact digits, not the shortest ones and zeros.
      if (value >= 0x1p53) {
        const std::to_chars_result written = std::to_chars(out, start + kShortestDoubleChars, value);
        // Fixed is chosen only when no longer than scientific (24 characters at most), and the
        // exact digits are as many as the shortest digits and zeros: the buffer always holds them.
        if (written.ec != std::errc{})
          fail("write_shortest_double", fmt::format("{} did not fit in {} characters", value, kShortestDoubleChars));
        return written.ptr;
      }
      write_digits(out, significand, digits);
      std::memset(out + digits, '0', static_cast<size_t>(exponent));
      return out + digits + exponent;
    }
    if (scientific_exponent >= 0) {  // a point among the digits
      // Written one place to the right, then the integer digits moved left over the point's place.
      const int integer_digits = scientific_exponent + 1;
      write_digits(out + 1, significand, digits);
      for (int i = 0; i < integer_digits; ++i) out[i] = out[i + 1];
      out[integer_digits] = '.';
      return out + digits + 1;
    }
    const int leading_zeros = -scientific_exponent - 1;
    out[0] = '0';
    out[1] = '.';
    std::memset(out + 2, '0', static_cast<size_t>(leading_zeros));
    write_digits(out + 2 + leading_zeros, significand, digits);
    return out + 2 + leading_zeros + digits;
  }

  // d[.ddd]e±XX[X]
  write_digits(out + 1, significand, digits);
  out[0] = out[1];
  char* p = out + 1;
  if (digits > 1) {
    out[1] = '.';
    p = out + digits + 1;
  }
  *p++ = 'e';
  *p++ = scientific_exponent < 0 ? '-' : '+';
  int magnitude = scientific_exponent < 0 ? -scientific_exponent : scientific_exponent;
  if (magnitude >= 100) {
    *p++ = static_cast<char>('0' + magnitude / 100);
    magnitude %= 100;
  }
  std::memcpy(p, kDigitPairs + 2 * magnitude, 2);
  return p + 2;
}

}  // namespace ebs::repository
