#include "engine/util/byte_size.h"

#include <doctest/doctest.h>

namespace ebs {

namespace {

int64_t bytes_of(std::string_view text, int64_t plain_unit = 1) {
  const ByteSize size = parse_byte_size(text, plain_unit);
  INFO(text << ": " << size.problem);
  REQUIRE(size.bytes.has_value());
  CHECK(size.problem.empty());
  return *size.bytes;
}

std::string problem_of(std::string_view text, int64_t plain_unit = 1) {
  const ByteSize size = parse_byte_size(text, plain_unit);
  INFO(text << " gave " << size.bytes.value_or(-1));
  CHECK(!size.bytes.has_value());
  return size.problem;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("parse_byte_size takes plain bytes and binary units, with or without a space, in any case") {
  CHECK(bytes_of("4096") == 4096);
  CHECK(bytes_of("0") == 0);
  CHECK(bytes_of("4096 B") == 4096);
  CHECK(bytes_of("64 KiB") == 65536);
  CHECK(bytes_of("64KiB") == 65536);
  CHECK(bytes_of("8 MiB") == 8388608);
  CHECK(bytes_of("1 GiB") == 1073741824);
  CHECK(bytes_of("2 TiB") == int64_t{2} << 40);
  CHECK(bytes_of("8 mib") == 8388608);
  CHECK(bytes_of("8 MIB") == 8388608);
  CHECK(bytes_of("  8\tMiB  ") == 8388608);
  CHECK(bytes_of("007 KiB") == 7168);
}

TEST_CASE("parse_byte_size reads kB, MB, GB, TB as powers of 1000, whatever their case") {
  CHECK(bytes_of("8 MB") == 8000000);
  CHECK(bytes_of("8MB") == 8000000);
  CHECK(bytes_of("64 kB") == 64000);
  CHECK(bytes_of("64 KB") == 64000);
  CHECK(bytes_of("1 GB") == 1000000000);
  CHECK(bytes_of("3 TB") == 3000000000000);
}

TEST_CASE("parse_byte_size takes a fraction that makes whole bytes, and refuses one that does not") {
  CHECK(bytes_of("1.5 KiB") == 1536);
  CHECK(bytes_of("0.5 MiB") == 524288);
  CHECK(bytes_of("2.5 MB") == 2500000);
  CHECK(bytes_of("4096.0") == 4096);
  CHECK(has(problem_of("1.3 KiB"), "not a whole number of bytes"));
  CHECK(has(problem_of("0.5"), "not a whole number of bytes"));
  CHECK(has(problem_of(".5 MiB"), "does not start with a number"));
  CHECK(has(problem_of("5. MiB"), "does not start with a number"));
  CHECK(has(problem_of("1.2.3 MiB"), "is not a unit"));
}

TEST_CASE("parse_byte_size refuses other units, signs, empty text and more than int64_t holds, saying the forms") {
  const std::string xb = problem_of("8 XB");
  CHECK(xb == "'8 XB' is not a size in bytes ('XB' is not a unit): write 4096, 64 KiB, 8 MiB or 1 GiB (KiB, MiB, "
              "GiB, TiB: powers of 1024; kB, MB, GB, TB: of 1000)");
  for (const char* ambiguous : {"64K", "8M", "1G", "64Ki", "8 Mi", "8 Mb/s", "8 MiBs", "8 bytes", "1e6", "0x100"})
    CHECK(has(problem_of(ambiguous), "is not a unit"));
  CHECK(has(problem_of(""), "it is empty"));
  CHECK(has(problem_of("   "), "it is empty"));
  CHECK(has(problem_of("MiB"), "does not start with a number"));
  CHECK(has(problem_of("-1"), "no sign"));
  CHECK(has(problem_of("+8 MiB"), "no sign"));
  CHECK(bytes_of("9223372036854775807") == INT64_MAX);
  CHECK(has(problem_of("9223372036854775808"), "more than 2^63 - 1 bytes"));
  CHECK(has(problem_of("8388608 TiB"), "more than 2^63 - 1 bytes"));  // 2^63 exactly
  CHECK(bytes_of("8388607 TiB") == int64_t{8388607} << 40);
  CHECK(has(problem_of("99999999999999999999"), "more than 19 digits"));
}

TEST_CASE("parse_byte_size counts every significant digit of a fraction: a long one is refused, never overflows") {
  // Zeros after the point used to go uncounted while each multiplied the divisor by 10: from 39
  // of them the arithmetic overflowed, at 128 the divisor wrapped to 0 (SIGFPE).
  CHECK(has(problem_of("0." + std::string(200, '0') + "1 KiB"), "more than 19 digits"));
  CHECK(has(problem_of("0." + std::string(127, '0') + "1"), "more than 19 digits"));
  CHECK(has(problem_of("0." + std::string(37, '0') + "1 TiB"), "more than 19 digits"));
  CHECK(has(problem_of("1.0000000000000000001"), "more than 19 digits"));  // 20 significant digits
  // Zeros that end a fraction change nothing: taken, however many.
  CHECK(bytes_of("1.0000000000000000000 B") == 1);
  CHECK(bytes_of("1." + std::string(200, '0') + " KiB") == 1024);
  CHECK(bytes_of("9223372036854775807.0") == INT64_MAX);
  CHECK(bytes_of("0.5000000000000000000 KiB") == 512);
  CHECK(bytes_of("0.000000000001 TB") == 1);  // 10^-12 TB: one byte
  CHECK(has(problem_of("0.0000000000000000001 TB"), "not a whole number of bytes"));
}

TEST_CASE("parse_byte_size takes any white space (C locale isspace) around the number and before the unit") {
  CHECK(bytes_of("8 MiB\r") == 8388608);  // a file saved with CRLF line ends
  CHECK(bytes_of("\r\n\v\f 4096 \t\r\n") == 4096);
  CHECK(bytes_of("8\rMiB") == 8388608);
  CHECK(has(problem_of("\r"), "it is empty"));
}

TEST_CASE("parse_byte_size: a key named in MiB counts a plain number in MiB, a unit as written") {
  CHECK(bytes_of("32", int64_t{1} << 20) == int64_t{32} << 20);
  CHECK(bytes_of("512 KiB", int64_t{1} << 20) == 524288);
  CHECK(bytes_of("4096 B", int64_t{1} << 20) == 4096);
  CHECK(has(problem_of("32 XB", int64_t{1} << 20), "a number without a unit counts MiB"));
  CHECK(has(problem_of("8796093022208", int64_t{1} << 20), "more than 2^63 - 1 bytes"));  // 2^43 MiB
}

TEST_CASE("describe_bytes gives the bytes and, where one divides them, the largest binary unit") {
  CHECK(describe_bytes(8388608) == "8388608 (8 MiB)");
  CHECK(describe_bytes(1536) == "1536");  // 1.5 KiB: no whole binary unit
  CHECK(describe_bytes(65536) == "65536 (64 KiB)");
  CHECK(describe_bytes(int64_t{1} << 40) == "1099511627776 (1 TiB)");
  CHECK(describe_bytes(1000000) == "1000000");
  CHECK(describe_bytes(0) == "0");
}

}  // namespace ebs
