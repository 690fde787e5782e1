#include "actors/common/repository/shortest_double.h"

#include <doctest/doctest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace ebs::repository;

namespace {

std::string to_chars_text(double value) {
  char buffer[64];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

std::string shortest_text(double value) {
  char buffer[kShortestDoubleChars];
  return std::string(buffer, write_shortest_double(buffer, value));
}

double from_bits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Counts the values whose text differs from std::to_chars's, and names the first few.
size_t mismatches(const std::vector<double>& values) {
  size_t count = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    const std::string expected = to_chars_text(v), written = shortest_text(v);
    if (expected == written) continue;
    if (++count <= 5) MESSAGE(expected << " written as " << written);
  }
  return count;
}

}  // namespace

TEST_CASE("shortest doubles: the edge cases as std::to_chars writes them") {
  CHECK(shortest_text(0.0) == "0");
  CHECK(shortest_text(-0.0) == "-0");
  CHECK(shortest_text(5e-324) == "5e-324");
  CHECK(shortest_text(1e21) == "1e+21");
  CHECK(shortest_text(1e-7) == "1e-07");
  CHECK(shortest_text(1e5) == "1e+05");
  CHECK(shortest_text(1e4) == "10000");  // as long as 1e+04: fixed
  CHECK(shortest_text(1000.0) == "1000");
  CHECK(shortest_text(0.001) == "0.001");     // as long as 1e-03: fixed
  CHECK(shortest_text(0.0001) == "1e-04");
  CHECK(shortest_text(0.00001) == "1e-05");
  CHECK(shortest_text(-2.5e-300) == "-2.5e-300");
  CHECK(shortest_text(1.7976931348623157e308) == "1.7976931348623157e+308");
  CHECK(shortest_text(123.456) == "123.456");
  // Above 2^53 fixed notation gives the integer's exact digits.
  CHECK(shortest_text(0x1p60) == "1152921504606846976");
  CHECK(shortest_text(0x1.77ef4f753a768p+69) == "866846644754157928448");

  std::vector<double> values = {0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.2250738585072009e-308,
                                1.7976931348623157e308, 9007199254740992.0, 9007199254740994.0, 18014398509481988.0,
                                1e22, 1e23, 123456789012345680.0, 0.1, 0.2, 0.3, 1.0 / 3.0, 2.0 / 3.0};
  for (int e = -325; e <= 309; ++e) {
    const double p = std::pow(10.0, e);
    for (int m = 1; m < 10; ++m) values.push_back(m * p);
    values.push_back(std::nextafter(p, 0.0));
    values.push_back(std::nextafter(p, INFINITY));
  }
  for (int e = -1074; e < 1024; ++e) {
    const double p = std::ldexp(1.0, e);
    values.insert(values.end(), {p, -p, 3 * p, std::nextafter(p, 0.0), std::nextafter(p, INFINITY)});
  }
  for (int64_t i = -3000; i <= 3000; ++i)
    values.insert(values.end(), {double(i), i * 1e10, i * 1e11, i * 1e15, i * 1e17, i / 8.0, i * 0.001});
  CHECK(mismatches(values) == 0);
}

TEST_CASE("shortest doubles: byte-identical to std::to_chars on random bit patterns, subnormals and survey-like values") {
  std::mt19937_64 random(20261205);
  std::vector<double> values;
  values.reserve(1'500'000);
  for (int i = 0; i < 500'000; ++i) values.push_back(from_bits(random()));                          // any double
  for (int i = 0; i < 100'000; ++i) values.push_back(from_bits(random() & 0x800FFFFFFFFFFFFFull));  // subnormals
  std::uniform_real_distribution<double> magnitudes(-1e6, 1e6);
  for (int i = 0; i < 200'000; ++i) {
    const double v = magnitudes(random);
    // As alerts carry them: doubles, floats widened to double, values of a few decimals.
    values.insert(values.end(), {v, double(static_cast<float>(v)), std::round(v * 1000) / 1000});
  }
  for (int i = 0; i < 100'000; ++i) {
    const double v = std::ldexp(double(random() >> 11), static_cast<int>(random() % 160) - 80);
    values.insert(values.end(), {v, std::trunc(v)});
  }
  CHECK(mismatches(values) == 0);
}
