// The reference workflow run twice on the shared ZTF alerts, reading the cutouts and not
// (avro-files `cutouts:`): the same repository rows and coincidences.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/common/sqlite/sqlite_db.h"
#include "app/builtin_modules.h"
#include "engine/graph/cutout_use.h"
#include "engine/model/record.h"
#include "engine/runtime/actor_logic.h"
#include "engine/runtime/engine.h"
#include "test/support/test_data.h"

using namespace ebs;
namespace fs = std::filesystem;

namespace {

// Every table's rows as text, sorted (insertion order and row ids may differ between runs), less
// what says when rather than what (sink_progress, schema_version, annotation ids). The sky-map
// annotations go apart, keyed by alert and event: which alerts carry one depends on whether the
// alert reached the coincidence actor before or after the notice (docs/coincidence.md), which two
// runs need not share.
struct Dump {
  std::map<std::string, std::vector<std::string>> tables;
  std::map<std::string, std::string> sky_map_annotations;  // by "alert_id|event/sequence"
};

Dump dump(const fs::path& db_path) {
  sqlite::Database db(db_path.string(), sqlite::Database::Mode::read_only);
  std::vector<std::string> tables;
  for (auto q = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('sink_progress', 'schema_version')"); q.step();)
    tables.emplace_back(q.text(0));
  Dump rows;
  for (const std::string& table : tables) {
    auto& out = rows.tables[table];
    for (auto q = db.prepare("SELECT * FROM \"" + table + "\""); q.step();) {
      std::string row, alert_id, name, config_hash;
      for (int c = 0; c < q.column_count(); ++c) {
        const std::string_view column = sqlite3_column_name(q.get(), c);
        if (column == "annotation_id") continue;
        const std::string value = q.is_null(c) ? std::string("NULL") : std::string(q.text(c));
        if (column == "alert_id") alert_id = value;
        if (column == "name") name = value;
        if (column == "config_hash") config_hash = value;
        row += value;
        row += '|';
      }
      if (table == "annotations" && name == "sky_map")
        rows.sky_map_annotations[alert_id + "|" + config_hash] = std::move(row);
      else
        out.push_back(std::move(row));
    }
    std::sort(out.begin(), out.end());
  }
  return rows;
}

std::vector<std::string> sorted_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// What alerts reached a sink of the test's own: with their cutouts, or without and saying so.
struct CutoutsSeen {
  std::atomic<uint64_t> with_cutouts{0}, not_read{0}, neither{0};
};

class CountsCutouts final : public ActorLogic {
 public:
  explicit CountsCutouts(CutoutsSeen* seen) : seen_(seen) {}
  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    for (size_t i = 0; i < batch.size(); ++i) {
      const AlertCore& core = static_cast<const Alert&>(batch[i]).core();
      if (core.cutouts_not_read && core.cutouts.empty()) ++seen_->not_read;
      else if (!core.cutouts_not_read && core.cutouts.size() == 3) ++seen_->with_cutouts;
      else ++seen_->neither;
    }
    out.delivered(batch.size());
  }

 private:
  CutoutsSeen* seen_;
};

}  // namespace

TEST_CASE("the reference workflow stores the same rows whether its source reads the cutouts or not") {
  ::setenv("EBS_TEST_DATA", test::data_dir().c_str(), 1);
  const fs::path root = fs::temp_directory_path() / ("ebs-cutouts-run-" + std::to_string(::getpid()));
  fs::remove_all(root);
  std::map<std::string, Dump> tables;
  std::map<std::string, std::vector<std::string>> coincidences;
  for (const std::string mode : {"read", "auto"}) {
    std::vector<Problem> problems;
    auto doc = parse_workflow((test::source_dir() / "bench/e2e/reference-files.yaml").string(), problems);
    REQUIRE(doc);
    apply_overrides(*doc, {"ztf.cutouts=" + mode}, problems);
    // A sink that leaves the cutouts alone beside the others, which sees what the run did.
    doc->root["actors"].push_back(YAML::Load("{id: seen, type: counts-cutouts, inputs: [quality.out]}"));
    CutoutsSeen seen;
    ActorRegistry registry;
    register_builtin_actors(registry);
    ActorType counts;
    counts.name = "counts-cutouts";
    counts.inputs = {{"in", PortType::alert, ""}};
    counts.uses_cutouts = uses_no_cutouts;
    counts.create = [&seen](const ActorContext&) { return std::make_unique<CountsCutouts>(&seen); };
    registry.add(counts);
    std::optional<Workflow> workflow = build_workflow(*doc, registry, problems);
    for (const Problem& p : problems) MESSAGE(format_problem(p));
    REQUIRE(workflow);
    // So `auto` leaves them unread (avro_files_source_test: what auto decides, and what it reads).
    CHECK_FALSE(cutout_use_downstream(*workflow, "ztf", {"cutoutScience", "cutoutTemplate", "cutoutDifference"}).used);
    RunOptions options;
    options.run_dir = (root / mode).string();
    options.handle_signals = false;
    options.threads = 2;
    RunResult result = run_workflow(*workflow, registry, options);
    REQUIRE(result.started);
    for (const std::string& e : result.errors) MESSAGE(e);
    CHECK(result.errors.empty());
    CHECK(result.accounting_ok);
    CHECK(result.find("ztf")->forwarded == 86);
    const uint64_t passed = result.find("quality")->forwarded;
    CHECK(passed > 10);
    CHECK(seen.neither.load() == 0);
    CHECK(seen.with_cutouts.load() == (mode == "read" ? passed : 0));
    CHECK(seen.not_read.load() == (mode == "read" ? 0 : passed));
    tables[mode] = dump(root / mode / "reference.db");
    coincidences[mode] = sorted_lines(root / mode / "coincidences.jsonl");
  }
  REQUIRE(tables["read"].tables["alerts"].size() > 10);
  CHECK(!tables["read"].tables["annotations"].empty());
  CHECK(!tables["read"].tables["lightcurve"].empty());
  for (const auto& entry : tables["read"].tables) {
    const std::string& table = entry.first;
    const std::vector<std::string>& rows = entry.second;
    const std::vector<std::string>& other = tables["auto"].tables[table];
    CHECK_MESSAGE(rows.size() == other.size(), table);
    if (rows.size() != other.size()) continue;
    for (size_t i = 0; i < rows.size(); ++i) CHECK_MESSAGE(rows[i] == other[i], table);
  }
  // An alert's sky-map annotation, where both runs made one, is the same.
  const auto& read_maps = tables["read"].sky_map_annotations;
  const auto& auto_maps = tables["auto"].sky_map_annotations;
  size_t in_both = 0;
  for (const auto& entry : read_maps) {  // not a structured binding: clang-14 refuses one in CHECK_MESSAGE
    auto other = auto_maps.find(entry.first);
    if (other == auto_maps.end()) continue;
    ++in_both;
    CHECK_MESSAGE(entry.second == other->second, entry.first);
  }
  MESSAGE("sky-map annotations: " << read_maps.size() << " reading the cutouts, " << auto_maps.size() << " not, "
                                  << in_both << " of the same alert and event in both");
  CHECK(coincidences["read"] == coincidences["auto"]);
  fs::remove_all(root);
}
