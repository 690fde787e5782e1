#include "actors/sources/dead_letter_replay.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/model/record_json.h"
#include "test/support/collecting_emitter.h"

using namespace ebs;
using nlohmann::json;

namespace {

json letter(const std::string& kind, const std::string& format, const json& original) {
  return {{"type", "DeadLetter"}, {"actor", "users"},           {"kind", kind}, {"place", "p"},
          {"reason", "r"},        {"original_format", format}, {"original", original}};
}

}  // namespace

TEST_CASE("dead-letters: alerts come back; a filter output's messages, bare datums and raw bytes are refused with the way back") {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("ebs-dead-letters-" + std::to_string(::getpid()) + ".jsonl");
  auto core = std::make_shared<AlertCore>();
  core->alert_id = 1311156250015010003;
  core->object_id = "ZTF18abjrdau";
  core->survey = "ztf";
  core->ra = 150.1;
  core->dec = 2.3;
  core->mag = 18.2;
  const Alert alert(core);
  const std::vector<std::string> lines{
      letter("failed", "json", to_json(alert, {true, true})).dump(),
      letter("undelivered", "bytes", "eyJmaWx0ZXIiOnt9fQ==").dump(),
      letter("undelivered", "avro-datum", "AAAA").dump(),
      letter("failed", "avro-datum", "AAAA").dump(),
      letter("failed", "bytes", "AAAA").dump(),
      letter("failed", "", "AAAA").dump(),
      "{\"not\": \"a letter\"}",
  };
  {
    std::ofstream out(file);
    for (const std::string& line : lines) out << line << "\n";
  }
  test::OpenActor source(register_dead_letter_replay, "dead-letters", "{path: \"" + file.string() + "\"}");
  test::CollectingEmitter out;
  while (source.logic().produce(100, out).state == ProduceResult::State::more) {
  }
  std::filesystem::remove(file);

  CHECK(out.read_records == lines.size());
  REQUIRE(out.records().size() == 1);
  CHECK(static_cast<const Alert&>(*out.records()[0]).core().alert_id == core->alert_id);
  CHECK(static_cast<const Alert&>(*out.records()[0]).core().object_id == "ZTF18abjrdau");
  REQUIRE(out.faults.size() == lines.size() - 1);
  // Each refused letter is failed as it was read (its line), at its place, with the way it can go back.
  for (size_t i = 0; i < out.faults.size(); ++i) {
    CHECK(out.originals[i] == lines[i + 1]);
    CHECK(out.faults[i].place() == file.string() + ":" + std::to_string(i + 2));
  }
  CHECK(out.faults[0].message() ==
        "a filter output's undelivered message (bytes), not an alert: send it to its output again (a Kafka topic's "
        "with ebs-flow replay --kind undelivered, a webhook's with ebs-flow filters replay --to-webhook; "
        "docs/filters.md)");
  CHECK(out.faults[1].message() ==
        "a filter output's undelivered message (avro-datum), not an alert: send it to its output again (a Kafka "
        "topic's with ebs-flow replay --kind undelivered, a webhook's with ebs-flow filters replay --to-webhook; "
        "docs/filters.md)");
  CHECK(out.faults[2].message() ==
        "its original is a bare Avro datum, not an alert's JSON: frame it with its topic's schema id to send it "
        "again (ebs-flow replay skips it)");
  CHECK(out.faults[3].message() == "its original is `bytes`, not an alert's JSON: send it back through its source (ebs-flow replay)");
  CHECK(out.faults[4].message() ==
        "its original is of an unknown format, not an alert's JSON: send it back through its source (ebs-flow replay)");
  CHECK(out.faults[5].message() == "not a dead letter (JSON line)");
}
