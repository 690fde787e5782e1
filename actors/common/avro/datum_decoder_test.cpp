#include "actors/common/avro/datum_decoder.h"

#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/libavro_reference.h"
#include "engine/model/raw_node_bytes.h"
#include "engine/util/fault.h"

using namespace ebs::avro;
using ebs::RawNode;
using testing::encode_string;
using testing::zigzag;

namespace {

const char* kAllTypes = R"({"type": "record", "name": "all", "namespace": "t", "fields": [
  {"name": "b", "type": "boolean"},
  {"name": "i", "type": "int"},
  {"name": "l", "type": "long"},
  {"name": "f", "type": "float"},
  {"name": "d", "type": "double"},
  {"name": "s", "type": "string"},
  {"name": "by", "type": "bytes"},
  {"name": "e", "type": {"type": "enum", "name": "band", "symbols": ["g", "r", "i"]}},
  {"name": "fx", "type": {"type": "fixed", "name": "two", "size": 2}},
  {"name": "a", "type": {"type": "array", "items": "int"}},
  {"name": "m", "type": {"type": "map", "values": "long"}},
  {"name": "u", "type": ["null", "string", "band"]},
  {"name": "un", "type": ["null", "string"]},
  {"name": "n", "type": "null"},
  {"name": "recs", "type": {"type": "array", "items": {"type": "record", "name": "pt",
     "fields": [{"name": "x", "type": "double"}, {"name": "tag", "type": ["null", "string"]}]}}}
]})";

std::string raw_float(float f) { return std::string(reinterpret_cast<const char*>(&f), 4); }
std::string raw_double(double d) { return std::string(reinterpret_cast<const char*>(&d), 8); }

std::string all_types_body(bool multi_block) {
  std::string b;
  b += '\x01';                            // b = true
  b += zigzag(-42);                       // i
  b += zigzag(int64_t{1} << 40);          // l
  b += raw_float(3.25f);                  // f
  b += raw_double(-1e300);                // d
  b += encode_string("héllo \"q\"");        // s
  b += encode_string(std::string("\x00\xff\x10", 3));  // by
  b += zigzag(2);                         // e = "i"
  b += "XY";                              // fx
  if (multi_block) {                      // a = [1, 2, 3] in two blocks, the second sized
    b += zigzag(1) + zigzag(1);
    std::string items = zigzag(2) + zigzag(3);
    b += zigzag(-2) + zigzag(static_cast<int64_t>(items.size())) + items + zigzag(0);
  } else {
    b += zigzag(3) + zigzag(1) + zigzag(2) + zigzag(3) + zigzag(0);
  }
  b += zigzag(2) + encode_string("k1") + zigzag(7) + encode_string("k2") + zigzag(-8) + zigzag(0);  // m
  b += zigzag(2) + zigzag(1);             // u = band "r"
  b += zigzag(0);                         // un = null
  // n: nothing
  if (multi_block) {
    b += zigzag(1) + raw_double(1.5) + zigzag(1) + encode_string("a");
    b += zigzag(1) + raw_double(2.5) + zigzag(0) + zigzag(0);
  } else {
    b += zigzag(2) + raw_double(1.5) + zigzag(1) + encode_string("a") + raw_double(2.5) + zigzag(0) +
         zigzag(0);
  }
  return b;
}

}  // namespace

TEST_CASE("DatumDecoder decodes every Avro type like libavro") {
  auto plan = DecodePlan::compile(kAllTypes, "all");
  for (bool multi_block : {false, true}) {
    CAPTURE(multi_block);
    auto body = std::make_shared<const std::string>(all_types_body(multi_block));
    ByteReader in(*body, "all");
    DatumDecoder decoder;
    ebs::RawRecord record = decoder.decode(plan, in, body);
    CHECK(in.at_end());
    CHECK(record.path("b").node().boolean);
    CHECK(record.path("i").as_int() == -42);
    CHECK(record.path("l").as_int() == (int64_t{1} << 40));
    CHECK(record.path("f").as_double() == 3.25);
    CHECK(record.path("d").as_double() == -1e300);
    CHECK(record.path("s").as_string() == "héllo \"q\"");
    CHECK(record.path("by").kind() == RawNode::Kind::Bytes);
    CHECK(record.path("by").as_string() == std::string_view("\x00\xff\x10", 3));
    CHECK(record.path("e").as_string() == "i");
    CHECK(record.path("fx").kind() == RawNode::Kind::Bytes);
    CHECK(record.path("fx").as_string() == "XY");
    CHECK(record.path("a").size() == 3);
    CHECK(record.path("a.2").as_int() == 3);
    CHECK(record.path("m").kind() == RawNode::Kind::List);
    CHECK(record.path("m.1.key").as_string() == "k2");
    CHECK(record.path("m.1.value").as_int() == -8);
    CHECK(record.path("u").as_string() == "r");
    CHECK(record.path("un").kind() == RawNode::Kind::Null);
    CHECK(record.path("n").kind() == RawNode::Kind::Null);
    CHECK(record.path("recs.1.x").as_double() == 2.5);
    CHECK(record.path("recs.0.tag").as_string() == "a");
    CHECK(record.path("recs.1.tag").is_null());
    // Strings point into the buffer.
    auto s = *record.path("s").as_string();
    CHECK(s.data() > body->data());
    CHECK(s.data() < body->data() + body->size());
    // And libavro reads the same values.
    reference::read_datum(kAllTypes, *body, [&](avro_value_t& value) {
      CHECK(reference::compare(value, record.root()) == "");
    });
  }
}

TEST_CASE("Unions of null and a primitive, in either order, decode like libavro (the fused step)") {
  const char* schema = R"({"type": "record", "name": "nullable", "fields": [
    {"name": "b0", "type": ["null", "boolean"]}, {"name": "b1", "type": ["boolean", "null"]},
    {"name": "i0", "type": ["null", "int"]},     {"name": "i1", "type": ["int", "null"]},
    {"name": "l0", "type": ["null", "long"]},    {"name": "l1", "type": ["long", "null"]},
    {"name": "f0", "type": ["null", "float"]},   {"name": "f1", "type": ["float", "null"]},
    {"name": "d0", "type": ["null", "double"]},  {"name": "d1", "type": ["double", "null"]},
    {"name": "s0", "type": ["null", "string"]},  {"name": "s1", "type": ["string", "null"]},
    {"name": "y0", "type": ["null", "bytes"]},   {"name": "y1", "type": ["bytes", "null"]}
  ]})";
  auto plan = DecodePlan::compile(schema, "n");
  const std::string values[] = {std::string(1, '\x01'), zigzag(-7), zigzag(int64_t{1} << 40),
                                raw_float(0.5f), raw_double(-2.25), encode_string("ab"),
                                encode_string(std::string("\x00\x01", 2))};
  // Each field null or present, alternately: first the ["null", T] fields present, then the others.
  for (int present_first : {0, 1}) {
    CAPTURE(present_first);
    std::string body;
    for (int field = 0; field < 14; ++field) {
      const bool null_first = field % 2 == 0;  // x0: ["null", T]; x1: [T, "null"]
      const bool present = (field + present_first) % 2 == 0;  // 0: x0 present, 1: x1 present
      body += zigzag(present == null_first ? 1 : 0);
      if (present) body += values[field / 2];
    }
    auto owned = std::make_shared<const std::string>(body);
    ByteReader in(*owned, "n");
    DatumDecoder decoder;
    ebs::RawRecord record = decoder.decode(plan, in, owned);
    CHECK(in.at_end());
    CHECK(record.path(present_first ? "i1" : "i0").as_int() == -7);
    CHECK(record.path(present_first ? "i0" : "i1").is_null());
    CHECK(record.path(present_first ? "s1" : "s0").as_string() == "ab");
    CHECK(record.path(present_first ? "b1" : "b0").node().boolean);
    CHECK(record.path(present_first ? "d1" : "d0").as_double() == -2.25);
    reference::read_datum(schema, *owned, [&](avro_value_t& value) {
      CHECK(reference::compare(value, record.root()) == "");
    });
  }
  // Every cut of a body (inside a branch index, between it and its value, inside a value) fails
  // cleanly at the field it cut.
  for (int present_first : {0, 1}) {
    std::string body;
    for (int field = 0; field < 14; ++field) {
      const bool null_first = field % 2 == 0;
      const bool present = (field + present_first) % 2 == 0;
      body += zigzag(present == null_first ? 1 : 0);
      if (present) body += values[field / 2];
    }
    for (size_t n = 0; n < body.size(); ++n) {
      CAPTURE(n);
      auto cut = std::make_shared<const std::string>(body.substr(0, n));
      ByteReader in(*cut, "n");
      DatumDecoder decoder;
      CHECK_THROWS_AS(decoder.decode(plan, in, cut), ebs::Fault);
    }
  }
  // An int branch holding a value past 32 bits is refused as the general int is (not read as a long).
  {
    auto int_plan = DecodePlan::compile(R"(["null", "int"])", "i");
    auto owned = std::make_shared<const std::string>(zigzag(1) + zigzag(int64_t{1} << 31));
    ByteReader in(*owned, "i");
    DatumDecoder decoder;
    CHECK_THROWS_WITH_AS(decoder.decode(int_plan, in, owned), "i:byte 1: int value out of 32-bit range", ebs::Fault);
  }
  // A ten-byte branch index (INT64_MIN) in a record's second field: the place is the index's byte.
  {
    auto record_plan = DecodePlan::compile(R"({"type": "record", "name": "r", "fields": [
      {"name": "a", "type": "long"}, {"name": "b", "type": ["null", "double"]}]})", "r");
    auto owned = std::make_shared<const std::string>(zigzag(300) + zigzag(std::numeric_limits<int64_t>::min()) + raw_double(1));
    ByteReader in(*owned, "r");
    DatumDecoder decoder;
    CHECK_THROWS_WITH_AS(decoder.decode(record_plan, in, owned),
                         "r:byte 2: union branch -9223372036854775808 out of range [0, 2)", ebs::Fault);
  }
  // A branch index out of range, in either order, names the union's two branches.
  for (const char* bad_schema : {R"(["double", "null"])", R"(["null", "string"])"}) {
    for (int64_t index : {int64_t{2}, int64_t{-1}}) {
      auto bad_plan = DecodePlan::compile(bad_schema, "u");
      auto owned = std::make_shared<const std::string>(zigzag(index) + raw_double(1));
      ByteReader in(*owned, "u");
      DatumDecoder decoder;
      CHECK_THROWS_WITH_AS(decoder.decode(bad_plan, in, owned),
                           ("u:byte 0: union branch " + std::to_string(index) + " out of range [0, 2)").c_str(),
                           ebs::Fault);
    }
  }
}

TEST_CASE("A record's values read the same far from the end of the data (the inline reads) as near it") {
  // The record loop reads a varint inline when ten bytes are left, a length or a double when it
  // fits; nearer the end the ByteReader reads it. Each record is decoded with 0-12 bytes after it,
  // which moves its last fields (the last ten bytes or so) from one way to the other: the first
  // fields are read inline whatever the padding, the last ones both ways. Compared with libavro's
  // reading of the record alone.
  const char* schema = R"({"type": "record", "name": "r", "fields": [
    {"name": "l", "type": "long"}, {"name": "i", "type": "int"}, {"name": "s", "type": "string"},
    {"name": "nl", "type": ["null", "long"]}, {"name": "ln", "type": ["long", "null"]},
    {"name": "ns", "type": ["null", "string"]}, {"name": "d", "type": "double"},
    {"name": "f", "type": "float"}, {"name": "b", "type": "boolean"}, {"name": "y", "type": "bytes"},
    {"name": "fx", "type": {"type": "fixed", "name": "three", "size": 3}},
    {"name": "e", "type": {"type": "enum", "name": "band", "symbols": ["g", "r", "i"]}},
    {"name": "al", "type": {"type": "array", "items": "long"}},
    {"name": "as", "type": {"type": "array", "items": ["null", "string"]}},
    {"name": "last", "type": "long"}]})";
  auto plan = DecodePlan::compile(schema, "r");
  // A value of every varint length, 1 to 10 bytes, and both signs.
  std::vector<int64_t> longs = {0, -1, 63, -64, 64, 8191, -8193, int64_t{1} << 20, -(int64_t{1} << 27),
                                int64_t{1} << 34, int64_t{1} << 41, -(int64_t{1} << 48), int64_t{1} << 55,
                                int64_t{1} << 62, std::numeric_limits<int64_t>::max(),
                                std::numeric_limits<int64_t>::min()};
  DatumDecoder decoder;
  for (size_t k = 0; k < longs.size(); ++k) {
    const int64_t l = longs[k];
    const auto i = static_cast<int32_t>(l >> 32 == 0 || l >> 32 == -1 ? l : l >> 33);
    std::string text(static_cast<size_t>(k * 9), 'x');  // lengths of one and two bytes
    std::string body = zigzag(l) + zigzag(i) + encode_string(text) + zigzag(1) + zigzag(l) + zigzag(0) +
                       zigzag(-(l / 3)) + zigzag(k % 2) + (k % 2 ? encode_string(text) : "") +
                       raw_double(static_cast<double>(l) / 7) + raw_float(static_cast<float>(k)) +
                       std::string(1, static_cast<char>(k % 2)) + encode_string(text.substr(k)) + "abc" +
                       zigzag(static_cast<int64_t>(k % 3)) + zigzag(2) + zigzag(l) + zigzag(-(l / 5)) + zigzag(0) +
                       zigzag(2) + zigzag(1) + encode_string(text.substr(0, k)) + zigzag(0) + zigzag(0) + zigzag(l ^ 5);
    for (size_t padding = 0; padding <= 12; ++padding) {
      CAPTURE(k);
      CAPTURE(padding);
      auto owned = std::make_shared<const std::string>(body + std::string(padding, '\x7f'));
      ByteReader in(*owned, "r");
      ebs::RawRecord record = decoder.decode(plan, in, owned);
      CHECK(in.remaining() == padding);
      CHECK(record.path("l").as_int() == l);
      CHECK(record.path("last").as_int() == (l ^ 5));
      reference::read_datum(schema, body, [&](avro_value_t& value) {
        CHECK(reference::compare(value, record.root()) == "");
      });
    }
  }
  // Varints written in more bytes than they need (0x80 0x00 is 0) read as the ByteReader reads
  // them, a union's branch index too.
  {
    std::string body = std::string("\x82\x80\x00", 3) /* l = 1 */ + zigzag(3) + encode_string("s") +
                       std::string("\x82\x00", 2) /* nl: branch 1 */ + zigzag(9) +
                       std::string("\x80\x00", 2) /* ln: branch 0 */ + zigzag(4) + zigzag(0) +
                       raw_double(1) + raw_float(2) + std::string(1, '\x01') + encode_string("") + "xyz" +
                       std::string("\x84\x80\x80\x00", 4) /* e = 2 */ + zigzag(0) /* al */ + zigzag(0) /* as */ +
                       zigzag(0);
    for (size_t padding : {size_t{0}, size_t{12}}) {
      CAPTURE(padding);
      auto owned = std::make_shared<const std::string>(body + std::string(padding, '\x7f'));
      ByteReader in(*owned, "r");
      ebs::RawRecord record = decoder.decode(plan, in, owned);
      CHECK(in.remaining() == padding);
      CHECK(record.path("l").as_int() == 1);
      CHECK(record.path("nl").as_int() == 9);
      CHECK(record.path("ln").as_int() == 4);
      CHECK(record.path("ns").is_null());
      CHECK(record.path("e").as_string() == "i");
    }
  }
}

TEST_CASE("Values to refuse fault the same far from the end of the data (the inline reads) as near it") {
  // Each value follows a one-byte long and is decoded with nothing after it (the ByteReader reads
  // it) and with 12 or 16 bytes after it (the record loop's cursor reads it inline and must send
  // it back to the ByteReader to refuse it): the same fault text and place both ways.
  struct Refusal {
    const char* type;
    std::string value;
    std::string (*message)(size_t padding);
  };
  const std::string eleven_byte_varint = std::string(10, '\x80') + std::string(1, '\x00');
  const std::vector<Refusal> refusals = {
      {R"("int")", zigzag(int64_t{1} << 31), [](size_t) { return std::string("r:byte 1: int value out of 32-bit range"); }},
      {R"("int")", zigzag(-(int64_t{1} << 31) - 1), [](size_t) { return std::string("r:byte 1: int value out of 32-bit range"); }},
      {R"(["null", "int"])", zigzag(1) + zigzag(int64_t{1} << 31),
       [](size_t) { return std::string("r:byte 2: int value out of 32-bit range"); }},
      {R"(["null", "int"])", zigzag(1) + zigzag(-(int64_t{1} << 31) - 1),
       [](size_t) { return std::string("r:byte 2: int value out of 32-bit range"); }},
      {R"("boolean")", std::string(1, '\x02'), [](size_t) { return std::string("r:byte 1: boolean byte is 2, not 0 or 1"); }},
      {R"("string")", zigzag(-3) + "abc", [](size_t) { return std::string("r:byte 1: negative length -3"); }},
      {R"(["null", "bytes"])", zigzag(1) + zigzag(100) + "ab", [](size_t padding) {
         return "r:byte 2: length 100 runs past the end (" + std::to_string(2 + padding) + " bytes left)";
       }},
      {R"("long")", eleven_byte_varint, [](size_t) { return std::string("r:byte 1: varint longer than 10 bytes"); }},
      {R"("string")", eleven_byte_varint, [](size_t) { return std::string("r:byte 1: varint longer than 10 bytes"); }},
      {R"({"type": "fixed", "name": "wide", "size": 40})", std::string(5, 'x'), [](size_t padding) {
         return "r:byte 1: truncated: need 40 bytes, " + std::to_string(5 + padding) + " left";
       }},
      {R"(["null", "long"])", zigzag(-1) + zigzag(7), [](size_t) { return std::string("r:byte 1: union branch -1 out of range [0, 2)"); }},
      {R"(["long", "null"])", zigzag(int64_t{1} << 40) + zigzag(7),
       [](size_t) { return std::string("r:byte 1: union branch 1099511627776 out of range [0, 2)"); }},
      {R"(["null", "long", "string"])", zigzag(-1) + zigzag(7),
       [](size_t) { return std::string("r:byte 1: union branch -1 out of range [0, 3)"); }},
      {R"({"type": "enum", "name": "band", "symbols": ["g", "r", "i"]})", zigzag(-1),
       [](size_t) { return std::string("r:byte 1: enum index -1 out of range [0, 3)"); }},
      {R"({"type": "enum", "name": "band", "symbols": ["g", "r", "i"]})", zigzag(3),
       [](size_t) { return std::string("r:byte 1: enum index 3 out of range [0, 3)"); }},
      // An array's items, read on a cursor of their own.
      {R"({"type": "array", "items": "int"})", zigzag(2) + zigzag(4) + zigzag(int64_t{1} << 31) + zigzag(0),
       [](size_t) { return std::string("r:byte 3: int value out of 32-bit range"); }},
      {R"({"type": "array", "items": ["null", "string"]})", zigzag(1) + zigzag(2) + zigzag(0),
       [](size_t) { return std::string("r:byte 2: union branch 2 out of range [0, 2)"); }},
  };
  DatumDecoder decoder;
  for (const Refusal& refusal : refusals) {
    auto plan = DecodePlan::compile(std::string(R"({"type": "record", "name": "r", "fields": [)") +
                                        R"({"name": "a", "type": "long"}, {"name": "v", "type": )" + refusal.type + "}]}",
                                    "r");
    for (size_t padding : {size_t{0}, size_t{12}, size_t{16}}) {
      CAPTURE(refusal.type);
      CAPTURE(padding);
      auto owned = std::make_shared<const std::string>(zigzag(5) + refusal.value + std::string(padding, '\0'));
      ByteReader in(*owned, "r");
      CHECK_THROWS_WITH_AS(decoder.decode(plan, in, owned), refusal.message(padding).c_str(), ebs::Fault);
    }
  }
}

TEST_CASE("A decoded record's bytes, counted while it is decoded, are its nodes and every text they view") {
  // Strings, bytes, fixed, enum symbols, map keys, a union's string and enum, and the nodes a
  // second block leaves unreachable (they are held too); then the record's first fields only.
  auto plan = DecodePlan::compile(kAllTypes, "all");
  DatumDecoder decoder;
  for (bool multi_block : {false, true}) {
    CAPTURE(multi_block);
    auto body = std::make_shared<const std::string>(all_types_body(multi_block));
    ByteReader in(*body, "all");
    ebs::RawRecord record = decoder.decode(plan, in, body);
    CHECK(record.bytes() == ebs::bytes_of_nodes(record.nodes()));
    CHECK(record.bytes() > record.nodes().size() * sizeof(RawNode) + 20);
    for (uint32_t fields : {0u, 5u, 8u, 11u}) {
      CAPTURE(fields);
      ByteReader head(*body, "all");
      ebs::RawRecord first = decoder.decode_head(plan, head, body, fields);
      CHECK(first.bytes() == ebs::bytes_of_nodes(first.nodes()));
    }
  }
}

TEST_CASE("A decoder that threw counts only the next record's bytes") {
  // The truncated record threw after its strings were counted; the builder forgets them.
  auto plan = DecodePlan::compile(kAllTypes, "all");
  std::string good = all_types_body(false);
  DatumDecoder decoder;
  auto truncated = std::make_shared<const std::string>(good.substr(0, good.size() - 2));
  ByteReader bad(*truncated, "all");
  CHECK_THROWS_AS(decoder.decode(plan, bad, truncated), ebs::Fault);
  auto body = std::make_shared<const std::string>(good);
  ByteReader in(*body, "all");
  ebs::RawRecord record = decoder.decode(plan, in, body);
  CHECK(record.bytes() == ebs::bytes_of_nodes(record.nodes()));
}

TEST_CASE("One huge record does not raise the nodes reserved for the next ones") {
  auto plan = DecodePlan::compile(R"({"type": "array", "items": "null"})", "s");
  DatumDecoder decoder;
  auto decode_nulls = [&](size_t count) {  // a List of `count` Nulls: count + 1 nodes
    auto body = std::make_shared<const std::string>(zigzag(static_cast<int64_t>(count)) + zigzag(0));
    ByteReader in(*body, "s");
    return decoder.decode(plan, in, body).nodes().size();
  };
  const size_t cap = DatumDecoder::kMaxReservedNodes;
  CHECK(decode_nulls(cap - 1) == cap);  // as large as enters the window
  CHECK(decoder.next_reserve() == cap + cap / 4 + 16);
  CHECK(decode_nulls(8 * cap) == 8 * cap + 1);  // stays out of it
  CHECK(decoder.next_reserve() == cap + cap / 4 + 16);
  // After two windows of small records, only their size is reserved.
  for (int i = 0; i < 128; ++i) decode_nulls(99);
  CHECK(decoder.next_reserve() == 100 + 100 / 4 + 16);
}

TEST_CASE("DatumDecoder raises faults on corrupt data") {
  auto plan = DecodePlan::compile(kAllTypes, "all");
  std::string good = all_types_body(false);
  auto fault_at = [&](const std::string& body) -> std::string {
    auto owned = std::make_shared<const std::string>(body);
    ByteReader in(*owned, "msg", 5);
    DatumDecoder decoder;
    try {
      decoder.decode(plan, in, owned);
    } catch (const ebs::Fault& f) {
      return f.place() + " | " + f.message();
    }
    return "decoded";
  };
  CHECK(fault_at(good) == "decoded");
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); ++n)
    CHECK(fault_at(good.substr(0, n)).find("msg:byte ") == 0);
  // An enum index out of range (the enum is right after b, i, l, f, d, s, by).
  size_t enum_at = 1 + zigzag(-42).size() + zigzag(int64_t{1} << 40).size() + 4 + 8 +
                   encode_string("héllo \"q\"").size() + encode_string(std::string(3, 'x')).size();
  std::string bad_enum = good;
  bad_enum[enum_at] = zigzag(5)[0];
  CHECK(fault_at(bad_enum) == "msg:byte " + std::to_string(5 + enum_at) + " | enum index 5 out of range [0, 3)");
  // A union branch out of range.
  auto plan_union = DecodePlan::compile(R"(["null", "int"])", "u");
  std::string branch = zigzag(2);
  auto owned = std::make_shared<const std::string>(branch);
  ByteReader in(*owned, "u");
  DatumDecoder decoder;
  CHECK_THROWS_WITH_AS(decoder.decode(plan_union, in, owned), "u:byte 0: union branch 2 out of range [0, 2)", ebs::Fault);
}

TEST_CASE("DatumDecoder refuses absurd counts and nesting before allocating") {
  DatumDecoder decoder;
  auto decode = [&](std::string_view schema, const std::string& body) {
    auto plan = DecodePlan::compile(schema, "s");
    auto owned = std::make_shared<const std::string>(body);
    ByteReader in(*owned, "m");
    return decoder.decode(plan, in, owned);
  };
  CHECK_THROWS_WITH_AS(decode(R"({"type": "array", "items": "double"})", zigzag(1000) + std::string(80, 'x')),
                       "m:byte 0: block count 1000 exceeds what the 80 bytes left can hold", ebs::Fault);
  CHECK_THROWS_AS(decode(R"({"type": "array", "items": "null"})", zigzag(int64_t{1} << 50)), ebs::Fault);
  CHECK(decode(R"({"type": "array", "items": "null"})", zigzag(1000) + zigzag(0)).root().size() == 1000);
  CHECK_THROWS_AS(decode(R"({"type": "map", "values": "int"})", zigzag(-5) + zigzag(1000)), ebs::Fault);
  // A recursive schema with data nested 1000 deep.
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += zigzag(1);
  deep += zigzag(0);
  CHECK_THROWS_WITH_AS(decode(R"({"type": "record", "name": "n", "fields": [{"name": "next", "type": ["null", "n"]}]})", deep),
                       doctest::Contains("nested deeper than 256"), ebs::Fault);
}
