#include "actors/common/avro/schema_directory.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "actors/common/avro/decode_plan.h"
#include "actors/common/avro/libavro_reference.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using ebs::avro::DecodePlan;
using ebs::avro::SchemaDirectory;

TEST_CASE("SchemaDirectory loads the Rubin schemas and inlines their named types") {
  auto directory = SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema");
  CHECK(directory.ids() == std::vector<uint32_t>{900, 1000, 1100});
  CHECK(!directory.schema_text(1200));
  for (uint32_t id : directory.ids()) {
    std::string_view text = *directory.schema_text(id);
    auto plan = DecodePlan::compile(text, "inlined");
    std::string version = std::to_string(id / 100) + "_" + std::to_string(id % 100);
    CHECK(plan->root_name() == "lsst.v" + version + ".alert");
    // libavro alone accepts the inlined text (it cannot resolve the files separately).
    CHECK_NOTHROW(ebs::avro::reference::GenericReader reader(text));
    // Each named type is defined exactly once, at its first use.
    CHECK(text.find("\"name\":\"lsst.v" + version + ".diaSource\"") != std::string_view::npos);
  }
  // One version folder on its own.
  auto v11 = SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema" / "11" / "0");
  CHECK(v11.ids() == std::vector<uint32_t>{1100});
  CHECK(*v11.schema_text(1100) == *directory.schema_text(1100));
}

TEST_CASE("SchemaDirectory inlining resolves namespaces and repeated references") {
  std::map<std::string, std::string> files = {
      {"a.root", R"({"type": "record", "name": "root", "namespace": "a", "fields": [
         {"name": "first", "type": "a.point"}, {"name": "second", "type": ["null", "point"]},
         {"name": "free", "type": "global"}]})"},
      {"a.point", R"({"type": "record", "name": "point", "namespace": "a", "fields": [{"name": "x", "type": "double"}]})"},
      {"global", R"({"type": "fixed", "name": "global", "size": 3})"}};
  std::string text = SchemaDirectory::inline_schemas(files, "a.root", "test");
  auto plan = DecodePlan::compile(text, "inlined");
  const auto& root = plan->type(plan->root());
  const auto& second = plan->type(plan->member(root.first + 1));
  CHECK(plan->member(second.first + 1) == plan->member(root.first));
  CHECK(plan->type(plan->member(root.first + 2)).count == 3);
  CHECK_NOTHROW(ebs::avro::reference::GenericReader reader(text));
  files.erase("global");
  CHECK_THROWS_WITH_AS(SchemaDirectory::inline_schemas(files, "a.root", "test"),
                       "test: unknown type name \"global\"", ebs::Fault);
}

TEST_CASE("SchemaDirectory faults name the folder") {
  CHECK_THROWS_WITH_AS(SchemaDirectory::load("/nonexistent/schemas"),
                       "/nonexistent/schemas: schema directory not found", ebs::Fault);
  CHECK_THROWS_WITH_AS(SchemaDirectory::load(ebs::test::data_dir() / "ztf"), doctest::Contains("no .avsc files found"), ebs::Fault);
}
