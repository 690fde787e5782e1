#include "actors/sinks/jsonl_sink.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test/support/collecting_emitter.h"

using namespace ebs;
using ebs::test::CollectingEmitter;
namespace fs = std::filesystem;

TEST_CASE("records are delivered, and acknowledged, only once flushed") {
  fs::path dir = fs::temp_directory_path() / ("ebs-jsonl-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ActorRegistry registry;
  register_jsonl_sink(registry);
  const ActorType& type = *registry.find("jsonl");
  ActorContext context = ebs::test::make_context(type, "{path: sub/out.jsonl}", dir.string());
  auto logic = type.create(context);
  logic->open(context);

  auto tracker = std::make_shared<AckTracker>();
  CollectingEmitter out;
  {
    std::vector<RecordPtr> records;
    for (int i = 0; i < 3; ++i) {
      auto d = std::make_shared<DeadLetter>();
      d->reason = "r" + std::to_string(i);
      d->original = "{\"a\": 1}";
      d->original_format = "json";
      records.push_back(d);
    }
    logic->on_batch(0, BatchView::make(PortType::dead_letter, records, {std::make_shared<const AckToken>(tracker, 3)}),
                    out);
  }
  CHECK(out.delivered_records == 0);
  CHECK(tracker->acknowledged_through() == 0);  // the sink still holds the batch
  logic->on_tick(out);
  CHECK(out.delivered_records == 3);
  CHECK(tracker->acknowledged_through() == 1);

  std::ifstream in(dir / "sub" / "out.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 3);
  auto j = nlohmann::json::parse(lines[1]);
  CHECK(j["reason"] == "r1");
  CHECK(j["original"]["a"] == 1);
  logic.reset();
  fs::remove_all(dir);
}

TEST_CASE("an unwritable path is a fault naming the config place") {
  ActorRegistry registry;
  register_jsonl_sink(registry);
  const ActorType& type = *registry.find("jsonl");
  ActorContext context = ebs::test::make_context(type, "{path: /proc/no/such/dir/x.jsonl}");
  auto logic = type.create(context);
  try {
    logic->open(context);
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.place() == "test.yaml:1:8");
  }
}
