#include "actors/common/avro/decode_plan.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <utility>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/container_file.h"
#include "engine/util/fault.h"

using ebs::avro::DecodePlan;
using Op = ebs::avro::PlanType::Op;

namespace {
std::string rejection(std::string_view schema) {
  try {
    DecodePlan::compile(schema, "schema.avsc");
  } catch (const ebs::Fault& f) {
    CHECK(f.place() == "schema.avsc");
    return f.message();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("DecodePlan compiles records, namespaces and named references") {
  auto plan = DecodePlan::compile(R"({
    "type": "record", "name": "alert", "namespace": "ztf.alert",
    "fields": [
      {"name": "candid", "type": "long"},
      {"name": "candidate", "type": {"type": "record", "name": "candidate",
        "fields": [{"name": "jd", "type": "double"}, {"name": "fid", "type": "int"}]}},
      {"name": "prv", "type": ["null", {"type": "array", "items": "candidate"}]},
      {"name": "again", "type": "ztf.alert.candidate"},
      {"name": "other", "type": {"type": "record", "name": "x.y.z", "fields": [
        {"name": "inner", "type": {"type": "enum", "name": "color", "symbols": ["RED", "GREEN"]}},
        {"name": "same", "type": "color"}]}},
      {"name": "tags", "type": {"type": "map", "values": "string"}},
      {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}}
    ]})", "s");
  CHECK(plan->root_name() == "ztf.alert.alert");
  const auto& root = plan->type(plan->root());
  REQUIRE(root.op == Op::Record);
  REQUIRE(root.count == 7);
  CHECK(root.shape->name == "ztf.alert.alert");
  CHECK(root.shape->fields[1] == "candidate");
  uint32_t candidate = plan->member(root.first + 1);
  CHECK(plan->type(candidate).shape->name == "ztf.alert.candidate");
  CHECK(plan->member(root.first + 3) == candidate);  // full-name reference: same type
  const auto& prv = plan->type(plan->member(root.first + 2));
  REQUIRE(prv.op == Op::Union);
  const auto& array = plan->type(plan->member(prv.first + 1));
  CHECK(array.op == Op::Array);
  CHECK(array.first == candidate);  // short name resolved in the enclosing namespace
  const auto& other = plan->type(plan->member(root.first + 4));
  CHECK(other.shape->name == "x.y.z");
  CHECK(plan->member(other.first) == plan->member(other.first + 1));  // "color" -> x.y.color
  const auto& color = plan->type(plan->member(other.first));
  CHECK(color.op == Op::Enum);
  CHECK(plan->symbol(color.first + 1) == "GREEN");
  const auto& tags = plan->type(plan->member(root.first + 5));
  CHECK(tags.op == Op::Map);
  CHECK(tags.shape->fields == std::vector<std::string>{"key", "value"});
  CHECK(plan->type(plan->member(root.first + 6)).op == Op::Long);
  CHECK(root.min_size == 1 + 9 + 1 + 9 + 2 + 1 + 1);
}

namespace {
// Every member's step beside members() is its type's (the decoder's record loop reads those).
void check_member_steps(const ebs::avro::DecodePlan& plan) {
  size_t members = 0;
  for (size_t id = 0; id < plan.type_count(); ++id) {
    const auto& t = plan.type(static_cast<uint32_t>(id));
    if (t.op == Op::Record || t.op == Op::Union) members = std::max<size_t>(members, t.first + t.count);
  }
  for (uint32_t i = 0; i < members; ++i) {
    CAPTURE(i);
    const auto& member = plan.type(plan.member(i));
    CHECK(plan.member_steps()[i].step == member.step);
    CHECK(plan.member_steps()[i].null_branch == member.null_branch);
  }
}
}  // namespace

TEST_CASE("DecodePlan handles recursive types") {
  auto plan = DecodePlan::compile(R"({"type": "record", "name": "node", "fields": [
    {"name": "value", "type": "int"}, {"name": "next", "type": ["null", "node"]}]})", "s");
  const auto& root = plan->type(plan->root());
  const auto& next = plan->type(plan->member(root.first + 1));
  CHECK(plan->member(next.first + 1) == plan->root());
  CHECK(root.min_size == 2);
  check_member_steps(*plan);
}

TEST_CASE("DecodePlan rejects invalid schemas") {
  CHECK(rejection(R"({"type": "record", "name": "r", "fields": [
          {"name": "a", "type": "int"}, {"name": "a", "type": "long"}]})") ==
        "invalid Avro schema: duplicate field name \"a\" in r");
  CHECK(rejection(R"({"type": "record", "name": "r", "fields": [{"name": "a", "type": "nope"}]})") ==
        "invalid Avro schema: unknown type name \"nope\"");
  CHECK(rejection(R"({"type": "record", "name": "r", "fields": [
          {"name": "a", "type": {"type": "fixed", "name": "r", "size": 2}}]})") ==
        "invalid Avro schema: type \"r\" is defined twice");
  CHECK(rejection(R"(["null", ["int", "long"]])").find("cannot directly contain a union") != std::string::npos);
  CHECK(rejection(R"(["int", "string", "int"])").find("same type twice") != std::string::npos);
  CHECK(rejection(R"({"type": "enum", "name": "e", "symbols": ["A", "A"]})").find("duplicate symbol") != std::string::npos);
  CHECK(rejection(R"({"type": "record", "name": "1bad", "fields": []})") == "invalid Avro schema: invalid name \"1bad\"");
  CHECK(rejection(R"({"type": "record", "name": "r", "fields": [{"name": "a"}]})").find("missing \"type\"") != std::string::npos);
  CHECK(rejection(R"({"type": "record", "name": "r", "fields": [)") == "invalid Avro schema: not valid JSON");
  CHECK(rejection(R"({"type": "array"})").find("missing \"items\"") != std::string::npos);
  CHECK(rejection(R"(42)").find("must be a name, an object or an array") != std::string::npos);
}

TEST_CASE("DecodePlan compiles every writer schema of the shared data") {
  for (const char* dir : {"ztf", "other-surveys", "lsst"}) {
    for (const auto& path : ebs::avro::testing::avro_files(dir)) {
      auto bytes = ebs::avro::testing::read_file(path);
      auto header = ebs::avro::read_container_header(*bytes, path.string());
      auto plan = DecodePlan::compile(header.schema, path.string());
      CHECK(plan->type(plan->root()).op == Op::Record);
      check_member_steps(*plan);
    }
  }
}

TEST_CASE("A union of null and a primitive, in either order, gets a fused decode step") {
  using Step = ebs::avro::PlanType::Step;
  auto step = [](std::string_view schema) {
    auto plan = ebs::avro::DecodePlan::compile(schema, "s");
    const auto& t = plan->type(plan->root());
    CHECK(t.op == Op::Union);
    return std::pair{t.step, t.null_branch};
  };
  // Every primitive, each in both orders: the step names the primitive, the null branch its index.
  const std::pair<const char*, Step> primitives[] = {
      {"boolean", Step::NullOrBoolean}, {"int", Step::NullOrInt},       {"long", Step::NullOrLong},
      {"float", Step::NullOrFloat},     {"double", Step::NullOrDouble}, {"string", Step::NullOrString},
      {"bytes", Step::NullOrBytes}};
  for (const auto& [name, fused] : primitives) {
    const std::string type = std::string("\"") + name + "\"";
    CAPTURE(type);
    CHECK(step("[\"null\", " + type + "]") == std::pair{fused, uint8_t{0}});
    CHECK(step("[" + type + ", \"null\"]") == std::pair{fused, uint8_t{1}});
  }
  // Others keep the general step: a named branch, three branches, no null.
  CHECK(step(R"(["null", {"type": "enum", "name": "e", "symbols": ["a"]}])").first == Step::Union);
  CHECK(step(R"(["null", "int", "string"])").first == Step::Union);
  CHECK(step(R"(["int", "string"])").first == Step::Union);
  CHECK(step(R"(["null"])").first == Step::Union);
  // Every other type's step is its op.
  CHECK(step(R"(["int", "string"])").first == ebs::avro::PlanType::step_of(Op::Union));
}
