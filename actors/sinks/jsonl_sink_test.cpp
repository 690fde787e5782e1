#include "actors/sinks/jsonl_sink.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/collecting_emitter.h"
#include "test/support/subprocess.h"

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

namespace {

BatchView letters(const std::shared_ptr<AckTracker>& tracker, int n) {
  std::vector<RecordPtr> records;
  for (int i = 0; i < n; ++i) {
    auto d = std::make_shared<DeadLetter>();
    d->reason = "r" + std::to_string(i);
    records.push_back(d);
  }
  return BatchView::make(PortType::dead_letter, records, {std::make_shared<const AckToken>(tracker, n)});
}

std::unique_ptr<ActorLogic> open_sink(const ActorRegistry& registry, const std::string& yaml, const fs::path& dir,
                                      bool overwrite = false) {
  const ActorType& type = *registry.find("jsonl");
  ActorContext context = ebs::test::make_context(type, yaml, dir.string());
  context.overwrite = overwrite;
  auto logic = type.create(context);
  logic->open(context);
  return logic;
}

}  // namespace

TEST_CASE("output a previous run wrote is never truncated without --overwrite; a torn last line is trimmed") {
  fs::path dir = fs::temp_directory_path() / ("ebs-jsonl-keep-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ActorRegistry registry;
  register_jsonl_sink(registry);
  std::ofstream(dir / "out.jsonl") << "{\"a\":1}\n{\"a\":2}\n{\"a\":";  // a run killed mid-line

  // append: false over a previous run's output is refused, naming the file, and leaves it alone.
  try {
    open_sink(registry, "{path: out.jsonl}", dir);
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.place() == "test.yaml:1:8");
    CHECK(f.message().find((dir / "out.jsonl").string()) != std::string::npos);
    CHECK(f.message().find("--overwrite") != std::string::npos);
  }
  CHECK(ebs::test::read_file(dir / "out.jsonl") == "{\"a\":1}\n{\"a\":2}\n{\"a\":");

  // append: true trims the torn line first, then appends whole lines.
  auto tracker = std::make_shared<AckTracker>();
  {
    auto sink = open_sink(registry, "{path: out.jsonl, append: true}", dir);
    CollectingEmitter out;
    sink->on_batch(0, letters(tracker, 2), out);
    sink->on_end_of_stream(out);
    CHECK(out.delivered_records == 2);
  }
  CHECK(tracker->acknowledged_through() == 1);
  std::string text = ebs::test::read_file(dir / "out.jsonl");
  CHECK(text.starts_with("{\"a\":1}\n{\"a\":2}\n{"));
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) CHECK(nlohmann::json::parse(line).is_object());
  CHECK(count == 4);

  // --overwrite truncates; an empty file needs no permission.
  open_sink(registry, "{path: out.jsonl}", dir, true);
  CHECK(fs::file_size(dir / "out.jsonl") == 0);
  open_sink(registry, "{path: out.jsonl}", dir);
  fs::remove_all(dir);
}

TEST_CASE("records a sink cannot write are abandoned, never acknowledged") {
  ActorRegistry registry;
  register_jsonl_sink(registry);
  auto tracker = std::make_shared<AckTracker>();
  auto sink = open_sink(registry, "{path: /dev/full}", fs::temp_directory_path());  // every write: ENOSPC
  CollectingEmitter out;
  sink->on_batch(0, letters(tracker, 3), out);
  try {
    sink->on_tick(out);
    FAIL("expected a fault");
  } catch (const Fault& f) {
    CHECK(f.place() == "/dev/full");
    CHECK(f.message().find("No space left on device") != std::string::npos);
  }
  CHECK(out.delivered_records == 0);
  sink.reset();
  CHECK(tracker->acknowledged_through() == 0);
  CHECK(tracker->records_abandoned() == 3);
}
