#include "actors/common/repository/raw_json.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "test/support/repository_test_support.h"
#include "test/support/ztf_alerts.h"
#include "engine/model/record_json.h"

using namespace ebs;
using namespace ebs::repository;

namespace {

template <class Pointer>
void check_same_as_record_json(const std::vector<Pointer>& alerts) {
  REQUIRE(!alerts.empty());
  for (const auto& r : alerts) {
    const RawRecord& raw = static_cast<const Alert&>(*r).core().raw;
    std::string text;
    append_raw_json(text, raw.root());
    nlohmann::json parsed = nlohmann::json::parse(text);
    CHECK(parsed == raw_to_json(raw.root()));
  }
}

}  // namespace

TEST_CASE("raw records as JSON text equal the engine's JSON form: real ZTF alerts (3.3 and 4.01)") {
  check_same_as_record_json(ebs::test::ztf_alerts("ztf/fink-20200101-v3.3"));
  check_same_as_record_json(ebs::test::ztf_alerts("ztf/kowalski-v3.3-v4.01"));
}

TEST_CASE("raw records as JSON text equal the engine's JSON form: simulated alerts") {
  check_same_as_record_json(testing::simulated_alerts(300, 17));
}

TEST_CASE("strings are escaped, doubles stay doubles, excluded fields are left out") {
  RecordShape shape("t", {"s", "d", "whole", "nan", "skip"});
  auto text = std::make_shared<std::string>(std::string("a\"b\\c\n\x01", 7));
  RawRecordBuilder b;
  uint32_t f = b.begin_record(b.add_root(), &shape);
  b.set_string(f, *text);
  b.set_double(f + 1, 0.1);
  b.set_double(f + 2, 3.0);
  b.set_double(f + 3, NAN);
  b.set_int(f + 4, 1);
  RawRecord raw = b.finish(text, nullptr);
  std::string out;
  append_raw_json(out, raw.root(), {"skip"});
  CHECK(out == R"({"s":"a\"b\\c\n\u0001","d":0.1,"whole":3.0,"nan":null})");
}
