#include "actors/common/avro/json_output.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/decoder.h"

using namespace ebs::avro;

TEST_CASE("to_json prints records, lists, escapes and bytes") {
  auto shape = std::make_shared<ebs::RecordShape>("r", std::vector<std::string>{"s", "n", "d", "i", "b", "raw", "list", "nan", "inf", "bad"});
  static const std::string buffer = std::string("a\"b\\c\n\x01\xc3\xa9", 9) + std::string("\x00\x01\xfe", 3) + "\xff";
  ebs::RawRecordBuilder builder;
  builder.add_root();
  uint32_t f = builder.begin_record(0, shape.get());
  builder.set_string(f, std::string_view(buffer).substr(0, 9));
  builder.set_null(f + 1);
  builder.set_double(f + 2, 2.0);
  builder.set_int(f + 3, -7);
  builder.set_bool(f + 4, true);
  builder.set_bytes(f + 5, std::string_view(buffer).substr(9, 3));
  uint32_t items = builder.begin_list(f + 6, 2);
  builder.set_double(items, 0.1);
  builder.set_double(items + 1, 1e300);
  builder.set_double(f + 7, std::nan(""));
  builder.set_double(f + 8, -std::numeric_limits<double>::infinity());
  builder.set_string(f + 9, std::string_view(buffer).substr(12, 1));
  ebs::RawRecord record = builder.finish(nullptr, shape);
  CHECK(to_json(record, false) ==
        R"({"s":"a\"b\\c\n\u0001é","n":null,"d":2.0,"i":-7,"b":true,"raw":3,"list":[0.1,1e+300],"nan":"NaN","inf":"-Infinity","bad":"�"})");
  CHECK(to_json(record, true).find(R"("raw":"AAH+")") != std::string::npos);
  CHECK(nlohmann::json::parse(to_json(record, true))["raw"] == "AAH+");
}

TEST_CASE("to_json of a real alert is valid JSON with every top-level field") {
  auto path = testing::avro_files("ztf/kowalski-v3.3-v4.01").back();
  Decoder decoder;
  std::vector<ebs::RawRecord> records;
  decoder.decode(testing::read_file(path), path.string(), records);
  auto parsed = nlohmann::json::parse(to_json(records[0], false));
  for (const char* field : {"schemavsn", "publisher", "objectId", "candid", "candidate",
                            "prv_candidates", "cutoutScience", "cutoutTemplate", "cutoutDifference"})
    CHECK(parsed.contains(field));
  CHECK(parsed["cutoutScience"]["stampData"].is_number_integer());
  CHECK(parsed["candid"].get<int64_t>() == *records[0].path("candid").as_int());
  auto with_bytes = nlohmann::json::parse(to_json(records[0], true));
  CHECK(with_bytes["cutoutScience"]["stampData"].get<std::string>().size() ==
        (parsed["cutoutScience"]["stampData"].get<size_t>() + 2) / 3 * 4);
}
