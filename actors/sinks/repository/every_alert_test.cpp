// Every alert file of the shared data (all surveys, all schema versions) and the schema-built
// files of the shapes it lacks (ZTF 1.3-3.2 with a negative candid, ATLAS, ELAsTiCC, Spark-wrapped
// Rubin; actors/common/profiles/schema_alerts.py) through the profiles into the repository, twice:
// each alert is stored exactly once under its own id, the second pass is all repeats, and stored
// + repeats + conflicts + dead letters add up to the input.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "actors/common/repository/reader.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/writer.h"
#include "test/support/avro_test_files.h"
#include "actors/common/avro/decoder.h"
#include "actors/common/profiles/profile_set.h"
#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

struct Tally {
  size_t input = 0, stored = 0, repeats = 0, conflicts = 0, dead_letters = 0;
  std::vector<std::string> reasons;
};

// As a source and the repository sink do: decode, choose a profile, map, write.
void ingest(const std::vector<std::filesystem::path>& files, Writer& writer, Tally& tally) {
  profiles::ProfileSet set = profiles::ProfileSet::builtin();
  avro::Decoder decoder;
  writer.begin();
  for (const auto& file : files) {
    std::vector<RawRecord> records;
    auto bytes = avro::testing::read_file(file);
    try {
      decoder.decode(bytes, file.string(), records);
    } catch (const Fault& f) {
      ++tally.input;  // one message that never became a record
      ++tally.dead_letters;
      tally.reasons.push_back(f.what());
      continue;
    }
    for (size_t i = 0; i < records.size(); ++i) {
      ++tally.input;
      std::string place = file.string() + " record " + std::to_string(i);
      std::shared_ptr<const Alert> alert;
      try {
        alert = std::make_shared<const Alert>(set.map(std::move(records[i]), bytes, place));
        Writer::validate(*alert, place);
      } catch (const Fault& f) {
        ++tally.dead_letters;
        tally.reasons.push_back(f.what());
        continue;
      }
      AddResult result = writer.add(*alert);
      switch (result.outcome) {
        case AddResult::Outcome::stored: ++tally.stored; break;
        case AddResult::Outcome::repeat: ++tally.repeats; break;
        case AddResult::Outcome::conflict:
          ++tally.conflicts;
          tally.reasons.push_back(result.reason);
          break;
        case AddResult::Outcome::rejected:  // as the sink does: a dead letter with its reason
          ++tally.dead_letters;
          tally.reasons.push_back(result.reason);
          break;
      }
    }
  }
  writer.commit(tally.stored, tally.stored);
}

}  // namespace

TEST_CASE("every alert of every survey and schema version: stored once, repeats skipped, the rest dead letters") {
  TempDir dir("every-alert");
  const std::filesystem::path built = dir.path() / "built";
  std::ifstream script(test::source_dir() / "actors/common/profiles/schema_alerts.py");
  std::stringstream text;
  text << script.rdbuf();
  test::run_python_oracle(text.str(), {test::data_dir().string(), built.string()});
  nlohmann::json manifest = nlohmann::json::parse(std::ifstream(built / "manifest.json"));

  std::vector<std::filesystem::path> files = avro::testing::avro_files("");
  REQUIRE(files.size() == 217);  // the shared data's alert files
  for (const auto& f : avro::testing::avro_files(built.string())) files.push_back(f);

  const std::string path = dir.file("every.db");
  Tally first, second;
  {
    Writer writer(path);
    ingest(files, writer, first);
    ingest(files, writer, second);
  }
  for (const std::string& r : first.reasons) MESSAGE(r);
  CHECK(first.input == first.stored + first.repeats + first.conflicts + first.dead_letters);
  CHECK(second.input == first.input);
  CHECK(second.repeats == first.stored + first.repeats);  // everything again: nothing new, nothing lost
  CHECK(second.stored == 0);
  CHECK(second.conflicts == first.conflicts);
  // Only the broker-classification message is no alert; every real alert is stored.
  CHECK(first.dead_letters == 1);
  CHECK(first.conflicts == 0);

  Reader reader(path);
  const Database& db = reader.database();
  CHECK(db.scalar("SELECT count(*) FROM alerts") == static_cast<int64_t>(first.stored));
  // Twelve ATLAS alerts of one exposure: twelve rows, each under its own key (once all were id 2).
  CHECK(db.scalar("SELECT count(*) FROM alerts WHERE survey = 'ATLAS'") == 12);
  CHECK(db.scalar("SELECT count(DISTINCT alert_id) FROM alerts WHERE survey = 'ATLAS'") == 12);
  std::vector<nlohmann::json> rows;
  reader.query("SELECT alert_id, alert_key FROM alerts WHERE survey = 'ATLAS' ORDER BY alert_key", {},
               [&](const nlohmann::json& row) { rows.push_back(row); });
  REQUIRE(rows.size() == 12);
  CHECK(rows[0]["alert_key"] == "02a59543o0040o_006230");
  CHECK(rows[0]["alert_id"] == std::to_string(alert_id_of_text("02a59543o0040o_006230")));
  // Every id of the schema-built files is there, under its survey, as its text.
  for (const auto& item : manifest.items()) {
    const std::string& file = item.key();
    const auto& expect = item.value();  // clang 14 lambdas (INFO) cannot capture structured bindings
    for (const auto& key : expect["alert_keys"]) {
      INFO(file << " " << key);
      std::vector<nlohmann::json> hit;
      reader.query("SELECT alert_id, alert_key FROM alerts WHERE survey = :survey AND alert_key = :key",
                   {{"survey", expect["survey"].get<std::string>()}, {"key", key.get<std::string>()}},
                   [&](const nlohmann::json& row) { hit.push_back(row); });
      CHECK(hit.size() == 1);
    }
  }
  // A negative ZTF candid round-trips, and JSON carries it as a string.
  rows.clear();
  reader.query("SELECT alert_id, alert_key FROM alerts WHERE alert_id < 0", {},
               [&](const nlohmann::json& row) { rows.push_back(row); });
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["alert_id"] == "-1105522232515015004");
  CHECK(rows[0]["alert_key"] == "-1105522232515015004");
}

TEST_CASE("a different alert under an id already stored is a conflict, never a replace") {
  TempDir dir("identity-conflict");
  Writer writer(dir.file("conflict.db"));
  writer.begin();
  auto stored = make_core(42, "obj-a", 10, 20, 60000.5);
  stored->alert_key = "42";
  CHECK(writer.add(Alert(stored)).outcome == AddResult::Outcome::stored);
  CHECK(writer.add(Alert(stored)).outcome == AddResult::Outcome::repeat);
  auto other = make_core(42, "obj-b", 11, 21, 60001.5);  // another alert, the same id
  AddResult result = writer.add(Alert(other));
  CHECK(result.outcome == AddResult::Outcome::conflict);
  CHECK(result.reason.find("a different alert under an existing id") != std::string::npos);
  CHECK(result.reason.find("obj-a") != std::string::npos);
  // Another survey, the same text key: a different (survey, alert_key), yet alert_id 42 is taken.
  auto elsewhere = make_core(42, "obj-a", 10, 20, 60000.5);
  elsewhere->survey = "other";
  CHECK(writer.add(Alert(elsewhere)).outcome == AddResult::Outcome::conflict);
  writer.commit(1, 1);
  CHECK(writer.database().scalar("SELECT object_id = 'obj-a' FROM alerts WHERE alert_id = 42") == 1);
  CHECK(writer.database().scalar("SELECT count(*) FROM alerts") == 1);
}
