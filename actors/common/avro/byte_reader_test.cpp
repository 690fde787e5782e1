#include "actors/common/avro/byte_reader.h"

#include <doctest/doctest.h>

#include "test/support/avro_test_files.h"
#include "engine/util/fault.h"

using ebs::avro::ByteReader;
using ebs::avro::testing::zigzag;

TEST_CASE("ByteReader decodes zig-zag varints") {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{-64}, int64_t{64}, int64_t{300},
                    int64_t{-123456789012}, INT64_MAX, INT64_MIN}) {
    std::string bytes = zigzag(v);
    ByteReader in(bytes, "t");
    CHECK(in.read_long() == v);
    CHECK(in.at_end());
  }
  std::string known("\x00\x01\x02\x7f\x80\x01", 6);
  ByteReader in(known, "t");
  CHECK(in.read_long() == 0);
  CHECK(in.read_long() == -1);
  CHECK(in.read_long() == 1);
  CHECK(in.read_long() == -64);
  CHECK(in.read_long() == 64);
}

TEST_CASE("ByteReader raises faults with place and byte offset") {
  auto fault_of = [](auto&& read) -> std::string {
    try {
      read();
    } catch (const ebs::Fault& f) {
      return f.place() + " | " + f.message();
    }
    return "no fault";
  };
  std::string truncated("\x02\x80\x80", 3);
  CHECK(fault_of([&] {
          ByteReader in(truncated, "topic/3/99", 100);
          in.read_long();
          in.read_long();
        }) == "topic/3/99:byte 101 | truncated varint");
  std::string eleven(11, '\xff');
  CHECK(fault_of([&] { ByteReader(eleven, "f").read_long(); }) == "f:byte 0 | varint longer than 10 bytes");
  std::string too_long = zigzag(10) + "abc";
  CHECK(fault_of([&] { ByteReader(too_long, "f").read_bytes(); }).find("f:byte 0 | length 10 runs past the end") == 0);
  std::string negative = zigzag(-3);
  CHECK(fault_of([&] { ByteReader(negative, "f").read_bytes(); }) == "f:byte 0 | negative length -3");
  std::string big = zigzag(int64_t{1} << 40);
  CHECK(fault_of([&] { ByteReader(big, "f").read_int(); }) == "f:byte 0 | int value out of 32-bit range");
  std::string boolean("\x02", 1);
  CHECK(fault_of([&] { ByteReader(boolean, "f").read_boolean(); }).find("f:byte 0 | boolean byte is 2") == 0);
  std::string short_double("1234567", 7);
  CHECK(fault_of([&] { ByteReader(short_double, "f").read_double(); }).find("truncated") != std::string::npos);
  CHECK(fault_of([&] { ByteReader(short_double, "f", 0, "of the block at byte 9").skip(8); }) ==
        "f:byte 0 of the block at byte 9 | truncated: need 8 bytes, 7 left");
}

TEST_CASE("ByteReader reads floats, doubles and views") {
  float f = 1.5f;
  double d = -2.25;
  std::string bytes(reinterpret_cast<const char*>(&f), 4);
  bytes.append(reinterpret_cast<const char*>(&d), 8);
  bytes += ebs::avro::testing::encode_string("hello");
  ByteReader in(bytes, "t");
  CHECK(in.read_float() == 1.5f);
  CHECK(in.read_double() == -2.25);
  auto s = in.read_bytes();
  CHECK(s == "hello");
  CHECK(s.data() == bytes.data() + 13);  // a view, not a copy
  CHECK(in.at_end());
}
