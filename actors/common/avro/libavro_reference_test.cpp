#include "actors/common/avro/libavro_reference.h"

#include <doctest/doctest.h>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/decoder.h"

using namespace ebs::avro;

TEST_CASE("compare finds the first differing field") {
  auto files = testing::avro_files("ztf/fink-20200101-v3.3");
  auto first = testing::read_file(files[0]);
  auto second = testing::read_file(files[1]);
  Decoder decoder;
  std::vector<ebs::RawRecord> records;
  decoder.decode(first, "first", records);
  reference::for_each_record(*first, [&](avro_value_t& value) {
    CHECK(reference::compare(value, records[0].root()) == "");
  });
  reference::for_each_record(*second, [&](avro_value_t& value) {
    std::string difference = reference::compare(value, records[0].root());
    CHECK(difference.find("objectId: expected \"") == 0);
  });
}

TEST_CASE("libavro 1.11 accepts duplicate field names (which is why DecodePlan rejects them)") {
  avro_schema_t schema;
  avro_schema_error_t error;
  std::string duplicate = R"({"type": "record", "name": "r", "fields": [{"name": "x", "type": "int"}, {"name": "x", "type": "long"}]})";
  int rc = avro_schema_from_json(duplicate.c_str(), static_cast<int32_t>(duplicate.size()), &schema, &error);
  CHECK(rc == 0);
  if (rc == 0) avro_schema_decref(schema);
}
