#include "actors/sources/files/avro_files_source.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <functional>
#include <optional>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "actors/common/avro/container_file.h"
#include "engine/graph/actor_registry.h"
#include "engine/graph/workflow.h"
#include "engine/model/record_bytes.h"
#include "engine/model/record_json.h"
#include "test/support/avro_test_files.h"
#include "test/support/collecting_emitter.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

struct Run {
  test::CollectingEmitter out;
  size_t produce_calls = 0;
};

// Runs a source to its end (or `max_calls` produce calls).
void run_source(ActorLogic& logic, test::CollectingEmitter& out, size_t max_calls = 100000) {
  for (size_t i = 0; i < max_calls; ++i) {
    ProduceResult r = logic.produce(16, out);
    if (r.state == ProduceResult::State::done) return;
    if (r.state == ProduceResult::State::idle) std::this_thread::sleep_for(r.retry_after);
  }
}

std::unique_ptr<ActorLogic> open_source(const ActorRegistry& registry, const std::string& yaml, ActorContext& context) {
  const ActorType* type = registry.find("avro-files");
  REQUIRE(type);
  context = test::make_context(*type, yaml);
  auto logic = type->create(context);
  logic->open(context);
  return logic;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("avro-files reads every ZTF, Rubin, PGIR and TURBO file of the shared data once") {
  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + test::data_dir().string() + "'}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  auto records = out.records();
  // 86 ZTF + 100 Rubin Spark + 3 Rubin samples + 17 PGIR + 11 TURBO; non-Avro files are dead letters.
  std::set<std::string> surveys;
  std::set<uint64_t> ids;
  for (const auto& r : records) {
    const auto& a = static_cast<const Alert&>(*r).core();
    surveys.insert(a.survey);
    ids.insert(a.alert_id);
  }
  CHECK(records.size() == 86 + 100 + 3 + 17 + 11);
  CHECK(surveys == std::set<std::string>{"PGIR", "Rubin", "TURBO", "ZTF"});
  CHECK(out.read_records == out.forwarded_records + out.failed_records);
  for (const Fault& f : out.faults) CHECK_MESSAGE(f.place().find(".avro") == std::string::npos, f.what());
}

TEST_CASE("corrupt and truncated files become dead letters with their place; the rest flows") {
  auto dir = std::filesystem::temp_directory_path() / ("ebs-avro-files-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto src = test::data_dir() / "ztf/kowalski-v3.3-v4.01";
  std::string good = slurp(src / "2475433850015010009.avro");
  std::ofstream(dir / "a-good.avro", std::ios::binary) << good;
  std::ofstream(dir / "b-truncated.avro", std::ios::binary) << good.substr(0, 30000);
  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x55;  // inside the last sync marker
  std::ofstream(dir / "c-sync.avro", std::ios::binary) << flipped;
  std::ofstream(dir / "d-garbage.avro", std::ios::binary) << "hello, not an alert";
  std::ofstream(dir / "e-good.avro", std::ios::binary) << slurp(src / "1127561442515015001.avro");

  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + (dir / "*.avro").string() + "'}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  CHECK(out.records().size() == 2);
  REQUIRE(out.faults.size() == 3);
  CHECK(out.faults[0].place().starts_with((dir / "b-truncated.avro").string() + ":byte "));
  CHECK(out.faults[1].place().starts_with((dir / "c-sync.avro").string() + ":byte "));
  CHECK(out.faults[2].place() == (dir / "d-garbage.avro").string() + ":byte 0");
  CHECK(out.read_records == 5);
  CHECK(out.read_records == out.forwarded_records + out.failed_records);
  std::filesystem::remove_all(dir);
}

TEST_CASE("speed replays by alert time; parallel instances split the files; loop starts over") {
  ActorRegistry registry;
  register_avro_files_source(registry);
  std::string glob = (test::data_dir() / "ztf/kowalski-v3.3-v4.01/1127*.avro").string();

  // The 11 alerts of 2020-02-02 span 39254 s: replayed in 0.3 s.
  ActorContext context;
  auto fast = open_source(registry, "{path: '" + glob + "'}", context);
  test::CollectingEmitter all;
  run_source(*fast, all);
  double first = 1e9, last = 0;
  for (const auto& r : all.records()) {
    first = std::min(first, static_cast<const Alert&>(*r).core().mjd_tai);
    last = std::max(last, static_cast<const Alert&>(*r).core().mjd_tai);
  }
  double span_s = (last - first) * 86400;
  REQUIRE(span_s > 100);
  double speed = span_s / 0.3;
  auto timed = open_source(registry, "{path: '" + glob + "', speed: " + std::to_string(speed) + "}", context);
  test::CollectingEmitter replayed;
  auto start = std::chrono::steady_clock::now();
  run_source(*timed, replayed);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(replayed.records().size() == 11);
  // Files in name order are not in time order: the replay takes at least the span after the
  // first file's alert, at most the whole span plus slack.
  CHECK(elapsed > 0.05);
  CHECK(elapsed < 1.5);

  // A glob, and a folder walked file by file: three instances read each alert once.
  // (no structured bindings: clang 14 refuses them in CHECK_MESSAGE)
  for (const auto& input : {std::pair<std::string, size_t>{glob, 11}, {(test::data_dir() / "ztf").string(), 86}}) {
    const std::string& path = input.first;
    const size_t alerts = input.second;
    std::set<uint64_t> ids;
    size_t total = 0;
    for (size_t i = 0; i < 3; ++i) {
      ActorContext c;
      const ActorType* type = registry.find("avro-files");
      c = test::make_context(*type, "{path: '" + path + "'}");
      c.instance = i;
      c.parallelism = 3;
      auto logic = type->create(c);
      logic->open(c);
      test::CollectingEmitter out;
      run_source(*logic, out);
      total += out.records().size();
      for (const auto& r : out.records()) ids.insert(static_cast<const Alert&>(*r).core().alert_id);
    }
    CHECK_MESSAGE(total == alerts, path);
    CHECK_MESSAGE(ids.size() == alerts, path);
  }

  auto looping = open_source(registry, "{path: '" + glob + "', loop: true}", context);
  test::CollectingEmitter looped;
  // 5 batches of up to 16 records (fewer when 2 MiB, kSourceBatchBytes, comes first): more than
  // two passes over the 11 alerts, each alert again and again.
  run_source(*looping, looped, 5);
  CHECK(looped.records().size() > 2 * 11);
  std::set<uint64_t> looped_ids;
  for (const auto& r : looped.records()) looped_ids.insert(static_cast<const Alert&>(*r).core().alert_id);
  CHECK(looped_ids.size() == 11);
}


namespace {

// One container of `copies` x the 50 real ZTF alerts of 2020-01-01 (schema 3.3, all one writer
// schema), `per_block` records a block: a Spark-sized file made of real alerts.
std::string big_ztf_container(size_t copies, size_t per_block) {
  std::string schema;
  std::vector<std::string> bodies;
  for (const auto& f : avro::testing::avro_files("ztf/fink-20200101-v3.3")) {
    std::string file = *avro::testing::read_file(f);
    avro::ContainerHeader h = avro::read_container_header(file, f.string());
    if (schema.empty()) schema = std::string(h.schema);
    REQUIRE(std::string(h.schema) == schema);
    bodies.push_back(avro::testing::single_record_body(file));
  }
  std::vector<std::pair<int64_t, std::string>> blocks;
  size_t n = 0;
  for (size_t c = 0; c < copies; ++c)
    for (const std::string& body : bodies) {
      if (n++ % per_block == 0) blocks.push_back({0, ""});
      ++blocks.back().first;
      blocks.back().second += body;
    }
  return avro::testing::make_container(schema, "null", blocks);
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ebs-avro-files-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("a container of 1,000 real ZTF alerts goes out in batches of batch_size records and batch_bytes bytes") {
  auto dir = temp_dir("big");
  std::string big = big_ztf_container(20, 300);  // 1,000 alerts in 4 blocks
  std::ofstream(dir / "big.avro", std::ios::binary) << big;
  ActorRegistry registry;
  register_avro_files_source(registry);

  SUBCASE("at batch_size") {
    ActorContext context;
    auto logic = open_source(registry, "{path: '" + (dir / "big.avro").string() + "'}", context);
    test::CollectingEmitter out;
    run_source(*logic, out);  // produce(16): batch_size 16
    CHECK(out.records().size() == 1000);
    CHECK(out.failed_records == 0);
    REQUIRE(out.sent[0].size() == 63);  // 62 x 16, then the last 8: blocks of 300 do not cut batches
    for (size_t i = 0; i + 1 < out.sent[0].size(); ++i) CHECK(out.sent[0][i].size() == 16);
    CHECK(out.sent[0].back().size() == 8);
  }
  SUBCASE("at batch_bytes") {
    ActorContext context;
    const ActorType* type = registry.find("avro-files");
    context = test::make_context(*type, "{path: '" + (dir / "big.avro").string() + "'}");
    const size_t batch_bytes = 1 << 20;
    auto logic = make_avro_files_source(batch_bytes);
    logic->open(context);
    test::CollectingEmitter out;
    for (int i = 0; i < 100000; ++i)
      if (logic->produce(1024, out).state == ProduceResult::State::done) break;
    CHECK(out.records().size() == 1000);
    size_t largest_record = 0;
    for (const RecordPtr& r : out.records()) largest_record = std::max(largest_record, record_bytes(*r));
    REQUIRE(out.sent[0].size() > 2);
    for (size_t i = 0; i < out.sent[0].size(); ++i) {
      const BatchView& b = out.sent[0][i];
      size_t bytes = 0;
      for (size_t j = 0; j < b.size(); ++j) bytes += record_bytes(b[j]);
      // A batch closes at the first record that reaches the bound: at most one record beyond it.
      CHECK(bytes < batch_bytes + largest_record);
      if (i + 1 < out.sent[0].size()) CHECK(bytes >= batch_bytes);
    }
    MESSAGE(out.sent[0].size() << " batches of at most 1 MiB + one record (" << largest_record << " bytes)");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a record no profile maps is dead-lettered as a container of its own, which avro-files reads back") {
  auto dir = temp_dir("unmapped");
  // A schema no survey profile accepts: every record fails alone, in every block.
  std::string schema = R"({"type":"record","name":"Unknown","fields":[{"name":"n","type":"long"}]})";
  std::string file = avro::testing::make_container(
      schema, "null", {{2, avro::testing::zigzag(7) + avro::testing::zigzag(8)}, {1, avro::testing::zigzag(9)}});
  std::ofstream(dir / "unknown.avro", std::ios::binary) << file;
  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + (dir / "unknown.avro").string() + "'}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  CHECK(out.records().empty());
  REQUIRE(out.faults.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(out.faults[i].place().starts_with((dir / "unknown.avro").string() + " record " + std::to_string(i)));
    CHECK(avro::testing::single_record_body(out.originals[i]) == avro::testing::zigzag(7 + static_cast<int64_t>(i)));
  }
  // The letter's bytes are a file avro-files reads: the same record, the same reason.
  std::ofstream(dir / "letter.avro", std::ios::binary) << out.originals[2];
  auto again = open_source(registry, "{path: '" + (dir / "letter.avro").string() + "'}", context);
  test::CollectingEmitter replayed;
  run_source(*again, replayed);
  REQUIRE(replayed.faults.size() == 1);
  CHECK(replayed.faults[0].message() == out.faults[2].message());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a container truncated in its third block: the first two blocks flow, the rest is one dead letter") {
  auto dir = temp_dir("truncated");
  std::string big = big_ztf_container(1, 20);  // 50 alerts in blocks of 20, 20, 10
  avro::ContainerHeader header = avro::read_container_header(big, "big");
  avro::ContainerBlocks blocks(big, header, "big");
  avro::ContainerBlock block;
  REQUIRE(blocks.next(block));
  REQUIRE(blocks.next(block));
  size_t third_block_start = block.data_offset + block.data.size() + 16;  // null codec: data as stored
  REQUIRE(blocks.next(block));
  size_t cut = block.data_offset + 1000;
  std::ofstream(dir / "cut.avro", std::ios::binary) << big.substr(0, cut);
  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + (dir / "cut.avro").string() + "'}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  CHECK(out.records().size() == 40);
  REQUIRE(out.faults.size() == 1);
  CHECK(out.faults[0].place().starts_with((dir / "cut.avro").string() + ":byte "));
  CHECK_MESSAGE(out.faults[0].message().find("runs past the end") != std::string::npos, out.faults[0].what());
  // The letter holds the header and every byte from the broken block on.
  avro::ContainerHeader letter = avro::read_container_header(out.originals[0], "letter");
  CHECK(letter.schema == header.schema);
  CHECK(out.originals[0].substr(letter.blocks_offset) == big.substr(third_block_start, cut - third_block_start));
  CHECK(out.read_records == out.forwarded_records + out.failed_records);
  std::filesystem::remove_all(dir);
}


namespace {

// Every alert of `path` (and what failed), read by a source configured with `extra` YAML keys.
struct SourceRun {
  std::vector<RecordPtr> alerts;
  std::vector<Fault> faults;
  std::vector<std::string> originals;
};
SourceRun read_with(const std::string& path, const std::string& extra) {
  ActorRegistry registry;
  register_avro_files_source(registry);
  ActorContext context;
  auto logic = open_source(registry, "{path: '" + path + "'" + extra + "}", context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  CHECK(out.read_records == out.forwarded_records + out.failed_records);
  return {out.records(), out.faults, out.originals};
}

// An alert as JSON with its raw record, less the cutouts `skipped` (the same alert read with
// `cutouts: skip`) says it left unread: nothing when it was read whole.
nlohmann::json without_cutouts(const Record& record, const Record& skipped) {
  nlohmann::json j = to_json(record, {.with_raw = true});
  const auto& unread = static_cast<const Alert&>(skipped).core().cutouts_not_read;
  if (!unread) return j;
  j.erase("cutouts");
  j.erase("cutouts_not_read");
  for (const std::string& field : unread->fields) j["raw"].erase(field);
  return j;
}
bool same_but_cutouts(const Record& read, const Record& skipped) {
  return without_cutouts(read, skipped) == without_cutouts(skipped, skipped);
}

}  // namespace

TEST_CASE("a folder whose nights are links to folders stored elsewhere is read through the links") {
  auto dir = temp_dir("linked-nights");
  const std::filesystem::path ztf = test::data_dir() / "ztf";
  for (const char* night : {"fink-20200101-v3.3", "kowalski-v3.3-v4.01"})
    std::filesystem::create_directory_symlink(ztf / night, dir / night);
  std::filesystem::create_directory_symlink(dir, dir / "fink-20200101-v3.3x-back-to-top");
  SourceRun linked = read_with(dir.string(), "");
  SourceRun direct = read_with(ztf.string(), "");
  REQUIRE(linked.alerts.size() == 86);
  REQUIRE(direct.alerts.size() == linked.alerts.size());
  CHECK(linked.faults.empty());
  for (size_t i = 0; i < direct.alerts.size(); ++i)
    CHECK(static_cast<const Alert&>(*linked.alerts[i]).core().alert_id ==
          static_cast<const Alert&>(*direct.alerts[i]).core().alert_id);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cutouts: skip gives every real ZTF alert as `read` does, without its cutouts, and says so") {
  const std::string ztf = (test::data_dir() / "ztf").string();
  SourceRun read = read_with(ztf, ", cutouts: read");
  SourceRun skipped = read_with(ztf, ", cutouts: skip");
  REQUIRE(read.alerts.size() == 86);
  REQUIRE(skipped.alerts.size() == read.alerts.size());
  CHECK(skipped.faults.empty());
  for (size_t i = 0; i < read.alerts.size(); ++i) {
    const AlertCore& whole = static_cast<const Alert&>(*read.alerts[i]).core();
    const AlertCore& head = static_cast<const Alert&>(*skipped.alerts[i]).core();
    CHECK(whole.cutouts.size() == 3);
    CHECK_FALSE(whole.cutouts_not_read);
    CHECK(head.cutouts.empty());
    REQUIRE(head.cutouts_not_read);
    CHECK(head.cutouts_not_read->fields == std::vector<std::string>{"cutoutScience", "cutoutTemplate", "cutoutDifference"});
    // The file that still holds them (a dead letter's reader finds them there).
    CHECK(head.cutouts_not_read->file.starts_with(ztf));
    CHECK(slurp(head.cutouts_not_read->file).find(std::string(whole.cutouts[0].bytes)) != std::string::npos);
    CHECK(head.raw.path("cutoutScience").is_null());
    CHECK(!head.raw.path("candidate.magpsf").is_null());
    CHECK(same_but_cutouts(*read.alerts[i], *skipped.alerts[i]));
    // The record keeps less than its file alive (the read stopped before the cutouts), and
    // counts all it keeps: the prefix read (at least 32 KiB) and the nodes.
    CHECK(head.kept_bytes >= 32 * 1024);
    CHECK(head.kept_bytes < std::filesystem::file_size(head.cutouts_not_read->file));
    CHECK(record_bytes(*skipped.alerts[i]) >= head.kept_bytes + head.raw.nodes().size() * sizeof(RawNode));
  }
  // A dead letter of an alert that failed downstream says why it has no cutouts.
  CHECK(to_json(*skipped.alerts[0], {})["cutouts_not_read"]["fields"].size() == 3);
  CHECK_FALSE(to_json(*read.alerts[0], {}).contains("cutouts_not_read"));
  // Back from JSON (a dead letter replayed), it still says so.
  const RecordPtr back = alert_from_json(to_json(*skipped.alerts[0], {.with_bytes = true}), "letter");
  CHECK(static_cast<const Alert&>(*back).core().cutouts_not_read);
}

TEST_CASE("cutouts: skip reads on when the first 32 KiB end before the fields it needs") {
  // The ZTF file with the longest history: its header and fields before the cutouts pass 32 KiB.
  std::filesystem::path longest;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::data_dir() / "ztf"))
    if (entry.path().extension() == ".avro" && (longest.empty() || entry.file_size() > std::filesystem::file_size(longest)))
      longest = entry.path();
  SourceRun read = read_with(longest.string(), ", cutouts: read");
  SourceRun skipped = read_with(longest.string(), ", cutouts: skip");
  REQUIRE(read.alerts.size() == 1);
  REQUIRE(skipped.alerts.size() == 1);
  const AlertCore& head = static_cast<const Alert&>(*skipped.alerts[0]).core();
  REQUIRE(head.cutouts_not_read);
  CHECK(head.kept_bytes > 32 * 1024);
  CHECK(head.kept_bytes < std::filesystem::file_size(longest));
  CHECK(same_but_cutouts(*read.alerts[0], *skipped.alerts[0]));
}

TEST_CASE("cutouts: skip reads as far as the files' sizes less their cutouts say, and on where that is short") {
  // Four copies of the shared ZTF alerts one after the other (more than a window of 256 files):
  // short and long histories, and a few files whose cutouts are shorter than most.
  auto dir = temp_dir("skip-tails");
  std::vector<std::filesystem::path> ztf;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::data_dir() / "ztf"))
    if (entry.path().extension() == ".avro") ztf.push_back(entry.path());
  std::sort(ztf.begin(), ztf.end());
  REQUIRE(ztf.size() == 86);
  for (size_t copy = 0; copy < 4; ++copy)
    for (size_t i = 0; i < ztf.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "%04zu.avro", copy * ztf.size() + i);
      std::filesystem::create_symlink(ztf[i], dir / name);
    }
  SourceRun read = read_with(dir.string(), ", cutouts: read");
  SourceRun skipped = read_with(dir.string(), ", cutouts: skip");
  REQUIRE(read.alerts.size() == 4 * 86);
  REQUIRE(skipped.alerts.size() == read.alerts.size());
  CHECK(skipped.faults.empty());
  size_t short_reads = 0;
  for (size_t i = 0; i < read.alerts.size(); ++i) {
    CHECK(same_but_cutouts(*read.alerts[i], *skipped.alerts[i]));
    const AlertCore& head = static_cast<const Alert&>(*skipped.alerts[i]).core();
    REQUIRE(head.cutouts_not_read);
    // Before, the first read was never shorter than 32 KiB (and was the longest need seen after
    // the first files: 52 KiB here); most of these files need 24-25 KB.
    short_reads += head.kept_bytes < 32 * 1024;
  }
  // The last copy, after the first window: its files with the shorter histories (about half).
  MESSAGE(short_reads << " of the 344 files read shorter than 32 KiB");
  CHECK(short_reads >= 30);
  std::filesystem::remove_all(dir);
}

namespace {

// `ztf`, a ZTF alert file, with its three cutouts null (the branch of the cutouts' unions that is
// not the cutout record: the first in the 4.x schemas, the second in 3.3's).
std::string with_null_cutouts(const std::filesystem::path& ztf) {
  const std::string file = *avro::testing::read_file(ztf);
  const avro::ContainerHeader header = avro::read_container_header(file, ztf.string());
  const std::string body = avro::testing::single_record_body(file);
  // The science cutout's union branch, its file name's length, its file name ("candid..._sci.fits.gz").
  const size_t name_end = body.find("_targ_sci.fits.gz");
  REQUIRE(name_end != std::string::npos);
  const size_t name_start = body.rfind("candid", name_end);
  REQUIRE(name_start >= 2);
  const size_t name_size = name_end + std::strlen("_targ_sci.fits.gz") - name_start;
  REQUIRE(body.substr(name_start - 1, 1) == avro::testing::zigzag(static_cast<int64_t>(name_size)));
  const char branch = body[name_start - 2];
  REQUIRE((branch == '\0' || branch == '\2'));
  const std::string null_branch = avro::testing::zigzag(branch == '\0' ? 1 : 0);
  return avro::testing::make_container(header.schema, "null",
                                       {{1, body.substr(0, name_start - 2) + null_branch + null_branch + null_branch}});
}

}  // namespace

TEST_CASE("cutouts: skip, once it has learned from ZTF files, reads other files as `read` does") {
  // The first read's length follows the files seen (ZTF's sizes less their cutouts): here 344 ZTF
  // files come first, then the Rubin and other surveys' files, ZTF files cut short in their
  // cutouts, ZTF files whose cutouts are null (a tail of 19 bytes where 40 KB were learned), and
  // ZTF files again: the same alerts and dead letters, with the same bytes and reasons, as `read`.
  auto dir = temp_dir("skip-learned");
  std::vector<std::filesystem::path> ztf = avro::testing::avro_files("ztf");
  REQUIRE(ztf.size() == 86);
  size_t n = 0;
  auto add = [&](const std::string& group, const std::string& bytes) {
    char name[64];
    std::snprintf(name, sizeof name, "%s-%04zu.avro", group.c_str(), n++);
    std::ofstream(dir / name, std::ios::binary) << bytes;
  };
  auto link = [&](const std::string& group, const std::filesystem::path& target) {
    char name[64];
    std::snprintf(name, sizeof name, "%s-%04zu.avro", group.c_str(), n++);
    std::filesystem::create_symlink(target, dir / name);
  };
  for (size_t copy = 0; copy < 4; ++copy)
    for (const auto& file : ztf) link("0-ztf", file);
  for (const auto& file : avro::testing::avro_files("lsst")) link("1-rubin", file);
  for (const auto& file : avro::testing::avro_files("other-surveys")) link("2-other", file);
  const std::filesystem::path longest = *std::max_element(ztf.begin(), ztf.end(), [](const auto& a, const auto& b) {
    return std::filesystem::file_size(a) < std::filesystem::file_size(b);
  });
  for (const auto& file : {ztf.front(), ztf.back(), longest}) {
    const std::string bytes = *avro::testing::read_file(file);
    add("3-ztf-cut-short", bytes.substr(0, bytes.size() - 100));
    add("4-ztf-null-cutouts", with_null_cutouts(file));
  }
  for (size_t i = 0; i < 10; ++i) link("5-ztf", ztf[i]);

  SourceRun read = read_with(dir.string(), ", cutouts: read");
  SourceRun skipped = read_with(dir.string(), ", cutouts: skip");
  // 354 ZTF files, the 3 with null cutouts; 100 Rubin Spark + 3 Rubin samples; 17 PGIR + 11 TURBO.
  CHECK(read.alerts.size() == 4 * 86 + 10 + 3 + 100 + 3 + 17 + 11);
  REQUIRE(skipped.alerts.size() == read.alerts.size());
  size_t without_cutouts = 0, null_cutouts = 0;
  for (size_t i = 0; i < read.alerts.size(); ++i) {
    CHECK(same_but_cutouts(*read.alerts[i], *skipped.alerts[i]));
    const AlertCore& head = static_cast<const Alert&>(*skipped.alerts[i]).core();
    without_cutouts += head.cutouts_not_read != nullptr;
    if (head.cutouts_not_read && head.cutouts_not_read->file.find("null-cutouts") != std::string::npos) {
      ++null_cutouts;
      CHECK(static_cast<const Alert&>(*read.alerts[i]).core().cutouts.empty());
    }
  }
  CHECK(without_cutouts >= 4 * 86 + 10 + 3);
  CHECK(null_cutouts == 3);
  // The three files cut short (and whatever else `read` dead-letters).
  REQUIRE(read.faults.size() >= 3);
  REQUIRE(skipped.faults.size() == read.faults.size());
  size_t cut_short = 0;
  for (size_t i = 0; i < read.faults.size(); ++i) {
    CHECK(skipped.faults[i].place() == read.faults[i].place());
    CHECK(std::string(skipped.faults[i].what()) == read.faults[i].what());
    CHECK(skipped.originals[i] == read.originals[i]);
    CHECK(!skipped.originals[i].empty());
    cut_short += read.faults[i].place().find("cut-short") != std::string::npos;
  }
  CHECK(cut_short == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cutouts: skip reads files that are not one ZTF record whole, as `read` does") {
  // Rubin Spark containers (many records a block), PGIR, TURBO, the Rubin samples and the
  // folders' other files: the same alerts, the same dead letters with the same bytes.
  const std::string all = test::data_dir().string();
  SourceRun read = read_with(all, ", cutouts: read");
  SourceRun skipped = read_with(all, ", cutouts: skip");
  REQUIRE(skipped.alerts.size() == read.alerts.size());
  for (size_t i = 0; i < read.alerts.size(); ++i)
    CHECK(same_but_cutouts(*read.alerts[i], *skipped.alerts[i]));
  REQUIRE(skipped.faults.size() == read.faults.size());
  for (size_t i = 0; i < read.faults.size(); ++i) {
    CHECK(skipped.faults[i].place() == read.faults[i].place());
    CHECK(skipped.originals[i] == read.originals[i]);
  }
}

TEST_CASE("cutouts: skip dead-letters truncated and corrupt files with the bytes and places of `read`") {
  auto dir = temp_dir("skip-corrupt");
  auto src = test::data_dir() / "ztf/kowalski-v3.3-v4.01";
  const std::string good = slurp(src / "2475433850015010009.avro");
  const avro::ContainerHeader header = avro::read_container_header(good, "good");
  std::ofstream(dir / "a-good.avro", std::ios::binary) << good;
  std::ofstream(dir / "b-truncated-in-cutouts.avro", std::ios::binary) << good.substr(0, good.size() - 5000);
  std::ofstream(dir / "c-truncated-in-header.avro", std::ios::binary) << good.substr(0, header.blocks_offset - 100);
  std::string longer = good;  // bytes after the block: not one block to the end of the file
  longer += "trailing";
  std::ofstream(dir / "e-trailing.avro", std::ios::binary) << longer;
  std::string bad_history = good;  // a union branch out of range early in the record
  bad_history[header.blocks_offset + 4] = '\x7f';
  std::ofstream(dir / "f-bad-record.avro", std::ios::binary) << bad_history;
  std::ofstream(dir / "g-garbage.avro", std::ios::binary) << "hello, not an alert";

  const std::string glob = (dir / "*.avro").string();
  SourceRun read = read_with(glob, ", cutouts: read");
  SourceRun skipped = read_with(glob, ", cutouts: skip");
  // a-good, and the block before e-trailing's trailing bytes.
  REQUIRE(read.alerts.size() == 2);
  REQUIRE(skipped.alerts.size() == read.alerts.size());
  for (size_t i = 0; i < read.alerts.size(); ++i)
    CHECK(same_but_cutouts(*read.alerts[i], *skipped.alerts[i]));
  REQUIRE(read.faults.size() == 5);
  REQUIRE(skipped.faults.size() == read.faults.size());
  for (size_t i = 0; i < read.faults.size(); ++i) {
    CHECK(skipped.faults[i].place() == read.faults[i].place());
    CHECK(std::string(skipped.faults[i].what()) == read.faults[i].what());
    CHECK(skipped.originals[i] == read.originals[i]);
    CHECK(!skipped.originals[i].empty());
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("cutouts: skip does not see damage after the fields it reads (the cutouts, the sync marker)") {
  auto dir = temp_dir("skip-unseen");
  const std::string good = slurp(test::data_dir() / "ztf/kowalski-v3.3-v4.01/2475433850015010009.avro");
  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x55;  // inside the sync marker, after the cutouts
  std::ofstream(dir / "sync.avro", std::ios::binary) << flipped;
  SourceRun read = read_with((dir / "sync.avro").string(), ", cutouts: read");
  SourceRun skipped = read_with((dir / "sync.avro").string(), ", cutouts: skip");
  CHECK(read.alerts.empty());
  CHECK(read.faults.size() == 1);
  REQUIRE(skipped.alerts.size() == 1);  // documented: docs/ingestion.md
  CHECK(skipped.faults.empty());
  std::filesystem::remove_all(dir);
}

namespace {

// The first alert of the source `ztf` of a workflow built from `yaml` (test types beside
// avro-files), opened as a run opens it.
AlertCore first_alert(const std::string& actors) {
  ActorRegistry registry;
  register_avro_files_source(registry);
  auto add = [&](const std::string& name, std::function<bool(const ActorConfig&, const std::vector<std::string>&)> uses,
                 PortType out = PortType::alert) {
    ActorType t;
    t.name = name;
    t.inputs = {{"in", PortType::any, ""}};
    t.outputs = {{"out", out, ""}};
    t.uses_cutouts = std::move(uses);
    t.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
    registry.add(std::move(t));
  };
  add("leaves-cutouts", uses_no_cutouts);
  add("shows-cutouts", [](const ActorConfig&, const std::vector<std::string>&) { return true; });
  add("says-nothing", nullptr);
  add("pairs", uses_no_cutouts, PortType::coincidence);
  add("shows-science", [](const ActorConfig&, const std::vector<std::string>& fields) {
    return std::find(fields.begin(), fields.end(), "cutoutScience") != fields.end();
  });
  const std::string glob = (test::data_dir() / "ztf/kowalski-v3.3-v4.01/1127*.avro").string();
  std::vector<Problem> problems;
  auto doc = parse_workflow_text("name: t\nactors:\n  - {id: ztf, type: avro-files, config: {path: '" + glob + "'" +
                                     "}}\n" + actors,
                                 "w.yaml", problems);
  REQUIRE(doc);
  std::optional<Workflow> workflow = build_workflow(*doc, registry, problems);
  for (const Problem& p : problems) MESSAGE(format_problem(p));
  REQUIRE(workflow);
  const ActorSpec* spec = workflow->find("ztf");
  ActorContext context;
  context.actor_id = "ztf";
  context.type_name = spec->type_name;
  context.type = spec->type;
  context.config = spec->config();
  context.workflow = &*workflow;
  auto logic = spec->type->create(context);
  logic->open(context);
  test::CollectingEmitter out;
  run_source(*logic, out);
  const std::vector<RecordPtr> alerts = out.records();
  REQUIRE(alerts.size() == 11);
  return static_cast<const Alert&>(*alerts[0]).core();
}

// Does it read the cutouts?
bool reads_cutouts(const std::string& actors) {
  const AlertCore first = first_alert(actors);
  CHECK((first.cutouts_not_read != nullptr) == first.cutouts.empty());
  return !first.cutouts_not_read;
}


}  // namespace

TEST_CASE("cutouts: auto reads them when an actor downstream uses them or does not say") {
  CHECK_FALSE(reads_cutouts("  - {id: a, type: leaves-cutouts, inputs: [ztf.alerts]}\n"
                            "  - {id: b, type: leaves-cutouts, inputs: [a.out]}\n"));
  CHECK(reads_cutouts("  - {id: a, type: leaves-cutouts, inputs: [ztf.alerts]}\n"
                      "  - {id: b, type: shows-cutouts, inputs: [a.out]}\n"));
  CHECK(reads_cutouts("  - {id: a, type: says-nothing, inputs: [ztf.alerts]}\n"));
  // Records that hold no alert carry no cutouts; neither do dead letters (they say so).
  CHECK_FALSE(reads_cutouts("  - {id: a, type: pairs, inputs: [ztf.alerts]}\n"
                            "  - {id: b, type: shows-cutouts, inputs: [a.out]}\n"));
  CHECK_FALSE(reads_cutouts("  - {id: a, type: leaves-cutouts, inputs: [ztf.alerts]}\n"
                            "  - {id: b, type: shows-cutouts, inputs: [a.dead_letters]}\n"));
  // An actor on another branch of the source.
  CHECK(reads_cutouts("  - {id: a, type: leaves-cutouts, inputs: [ztf.alerts]}\n"
                      "  - {id: b, type: shows-cutouts, inputs: [ztf.alerts]}\n"));
}

TEST_CASE("cutouts: auto reads the cutout fields used downstream and names those it left") {
  const AlertCore first = first_alert("  - {id: a, type: shows-science, inputs: [ztf.alerts]}\n");
  REQUIRE(first.cutouts_not_read);
  CHECK(first.cutouts_not_read->fields == std::vector<std::string>{"cutoutTemplate", "cutoutDifference"});
  REQUIRE(first.cutouts.size() == 1);
  CHECK(first.cutouts[0].kind == Cutout::Kind::science);
  CHECK(!first.raw.path("cutoutScience").is_null());
  CHECK(first.raw.path("cutoutTemplate").is_null());
}

TEST_CASE("cutouts: skip is refused at validate when an actor downstream uses them, naming it") {
  ActorRegistry registry;
  register_avro_files_source(registry);
  for (const char* name : {"leaves-cutouts", "shows-cutouts"}) {
    ActorType t;
    t.name = name;
    t.inputs = {{"in", PortType::any, ""}};
    t.outputs = {{"out", PortType::alert, ""}};
    const bool uses = std::string(name) == "shows-cutouts";
    t.uses_cutouts = [uses](const ActorConfig&, const std::vector<std::string>&) { return uses; };
    t.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
    registry.add(std::move(t));
  }
  auto build = [&](const std::string& downstream, std::vector<Problem>& problems) {
    auto doc = parse_workflow_text("name: t\nactors:\n  - id: ztf\n    type: avro-files\n    config:\n      path: '" +
                                       (test::data_dir() / "ztf").string() + "'\n      cutouts: skip\n" +
                                       "  - {id: a, type: leaves-cutouts, inputs: [ztf.alerts]}\n" + downstream,
                                   "w.yaml", problems);
    REQUIRE(doc);
    return build_workflow(*doc, registry, problems);
  };
  std::vector<Problem> problems;
  CHECK(build("", problems));
  CHECK(problems.empty());
  CHECK_FALSE(build("  - {id: page, type: shows-cutouts, inputs: [a.out]}\n", problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].place == "w.yaml:7:16");
  CHECK(problems[0].message ==
        "cutouts: skip, but actor 'page' (shows-cutouts) uses them: it would get alerts without their cutouts "
        "(write `cutouts: auto` to read them only where they are used)");
}

TEST_CASE("cutouts: read and skip force the choice; another word is refused at validate") {
  ActorRegistry registry;
  register_avro_files_source(registry);
  const ActorType* type = registry.find("avro-files");
  REQUIRE(type);
  std::vector<Problem> problems;
  type->check(test::make_context(*type, "{path: '" + test::data_dir().string() + "', cutouts: maybe}").config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "cutouts is auto, read or skip, not 'maybe'");
}

}  // namespace ebs
