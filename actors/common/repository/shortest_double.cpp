#include "actors/common/repository/shortest_double.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace ebs::repository {

namespace {

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int decimal_digits(uint64_t value) {
  int digits = 1;
  for (uint64_t bound = 10; digits < 20 && value >= bound; bound *= 10) ++digits;
  return digits;
}

// Writes the `count` decimal digits of `value` to out[0, count).
void write_digits(char* out, uint64_t value, int count) {
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

}  // namespace

char* write_shortest_double(char* out, double value) {
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
      if (value >= 0x1p53) return std::to_chars(out, out + kShortestDoubleChars, value).ptr;
      write_digits(out, significand, digits);
      std::memset(out + digits, '0', static_cast<size_t>(exponent));
      return out + digits + exponent;
    }
    if (scientific_exponent >= 0) {  // a point among the digits
      const int integer_digits = scientific_exponent + 1;
      write_digits(out, significand, digits);
      std::memmove(out + integer_digits + 1, out + integer_digits, static_cast<size_t>(digits - integer_digits));
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
