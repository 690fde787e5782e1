#include "actors/common/avro/schema_cache.h"

#include <doctest/doctest.h>

#include <thread>

#include "engine/util/fault.h"

using ebs::avro::SchemaCache;

TEST_CASE("SchemaCache compiles each schema text once") {
  SchemaCache cache;
  std::string a = R"({"type": "record", "name": "a", "fields": [{"name": "x", "type": "int"}]})";
  std::string a_copy = a;  // same bytes, other buffer
  std::string b = R"({"type": "record", "name": "b", "fields": [{"name": "x", "type": "int"}]})";
  auto plan_a = cache.plan_for(a, "p");
  CHECK(cache.plan_for(a_copy, "p") == plan_a);
  auto plan_b = cache.plan_for(b, "p");
  CHECK(plan_b != plan_a);
  CHECK(cache.compilations() == 2);
  CHECK(cache.size() == 2);
  CHECK_THROWS_AS(cache.plan_for(R"({"type": "nope"})", "p"), ebs::Fault);
  CHECK(cache.size() == 2);  // invalid schemas are not cached
}

TEST_CASE("SchemaCache is bounded and thread-safe") {
  SchemaCache cache(4);
  for (int i = 0; i < 10; ++i) cache.plan_for("{\"type\": \"fixed\", \"name\": \"f" + std::to_string(i) + "\", \"size\": 1}", "p");
  CHECK(cache.size() <= 4);

  SchemaCache shared;
  std::string schema = R"({"type": "array", "items": "string"})";
  std::vector<std::thread> threads;
  std::vector<const void*> seen(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) seen[t] = shared.plan_for(schema, "p").get();
    });
  for (auto& th : threads) th.join();
  CHECK(shared.size() == 1);
  for (const void* p : seen) CHECK(p == seen[0]);
}
