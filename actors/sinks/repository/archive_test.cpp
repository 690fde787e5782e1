#include "actors/sinks/repository/archive.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "test/support/repository_test_support.h"
#include "actors/common/repository/writer.h"
#include "engine/model/record_json.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

std::vector<nlohmann::json> read_gzip_lines(const std::string& path) {
  gzFile in = gzopen(path.c_str(), "rb");
  REQUIRE(in);
  std::string text;
  char buffer[4096];
  int n;
  while ((n = gzread(in, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  gzclose(in);
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(nlohmann::json::parse(text.substr(start, end - start)));
  return lines;
}

std::string fill(const TempDir& dir) {
  const std::string path = dir.file("old.db");
  Writer writer(path);
  writer.begin();
  // Alerts at MJD 60000 .. 60099, one a day, each with its detection and a classification.
  for (int day = 0; day < 100; ++day)
    writer.add(*make_alert(static_cast<uint64_t>(day + 1), "obj" + std::to_string(day % 7), 10, 10, 60000 + day)
                    ->annotated(classification("SN", 0.5)));
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S-old";
  event->mjd_tai = 60001;
  auto co = std::make_shared<Coincidence>();
  co->event_id = "S-old";
  co->alert_id = 2;
  writer.add(*event);
  writer.add(*co);
  writer.commit(102, 100);
  return path;
}

}  // namespace

TEST_CASE("archiving moves old rows into gzip JSON lines and out of the database") {
  TempDir dir("repo-archive");
  const std::string path = fill(dir);
  ArchiveOptions options;
  options.older_than_days = 30;
  options.now_mjd_tai = 60100;  // cutoff 60070: days 0..69 are old
  ArchiveResult r = archive(path, options);
  CHECK(r.cutoff_mjd_tai == 60070);
  CHECK(r.rows["alerts"] == 70);
  CHECK(r.rows["annotations"] == 70);
  CHECK(r.rows["lightcurve"] == 70);
  CHECK(r.rows["sky_events"] == 1);
  CHECK(r.rows["coincidences"] == 1);
  REQUIRE(r.files.size() == 5);
  Database db(path, Database::Mode::read_only);
  CHECK(db.scalar("SELECT count(*) FROM alerts") == 30);
  CHECK(db.scalar("SELECT min(mjd_tai) FROM alerts") == 60070);
  CHECK(db.scalar("SELECT count(*) FROM objects") == 7);  // summaries stay

  std::string alerts_file;
  for (const std::string& f : r.files)
    if (f.find("/alerts-") != std::string::npos) alerts_file = f;
  auto lines = read_gzip_lines(alerts_file);
  REQUIRE(lines.size() == 70);
  CHECK(lines[0]["alert_id"] == "1");
  CHECK(lines[69]["mjd_tai"] == 60069.0);

  // Again with the same cutoff: nothing is old any more, no file is written.
  ArchiveResult again = archive(path, options);
  CHECK(again.rows["alerts"] == 0);
  CHECK(again.files.empty());
}

TEST_CASE("an archive that fails on a table's rows (a damaged alerts.raw) leaves no files, however often tried") {
  TempDir dir("repo-archive-damaged");
  const std::string path = fill(dir);
  // Alert 5 (MJD 60004, archived): a compact raw record that ends after its first byte.
  Database(path, Database::Mode::read_write).execute("UPDATE alerts SET raw = x'0107' WHERE alert_id = 5");
  ArchiveOptions options;
  options.older_than_days = 10;
  options.now_mjd_tai = 60100;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // annotations and cutouts are written before alerts fails.
    CHECK_THROWS_WITH_AS(archive(path, options), doctest::Contains("damaged raw record"), Fault);
    std::vector<std::string> left;
    for (const auto& entry : std::filesystem::directory_iterator(path + ".archive")) left.push_back(entry.path().string());
    CHECK_MESSAGE(left.empty(), "attempt ", attempt, ": ", left.size(), " files left, the first ",
                  left.empty() ? std::string() : left.front());
  }
  CHECK(Database(path, Database::Mode::read_only).scalar("SELECT count(*) FROM alerts") == 100);
  CHECK(Database(path, Database::Mode::read_only).scalar("SELECT count(*) FROM annotations") == 100);
}

TEST_CASE("--delete deletes without archives") {
  TempDir dir("repo-archive-del");
  const std::string path = fill(dir);
  ArchiveOptions options;
  options.older_than_days = 10;
  options.now_mjd_tai = 60100;
  options.delete_only = true;
  ArchiveResult r = archive(path, options);
  CHECK(r.rows["alerts"] == 90);
  CHECK(r.files.empty());
  CHECK(!std::filesystem::exists(path + ".archive"));
  CHECK_THROWS_AS(archive(dir.file("missing.db"), options), Fault);
}

TEST_CASE("--delete leaves no copy of a deleted alert's raw record in the database file, JSON or compact") {
  // SQLite moves cells between pages as its b-trees split and merge; the old copies stay in the
  // page's free space unless the connection that moved them zero-fills (secure_delete, which
  // Debian's build turns on and the writer keeps). Deleted alerts must not stay readable there
  // (with `PRAGMA secure_delete=OFF` on the writer's connection, 5 of these 150 were).
  for (const WriterOptions::RawFormat format : {WriterOptions::RawFormat::json, WriterOptions::RawFormat::compact}) {
    const bool compact = format == WriterOptions::RawFormat::compact;
    const std::string form = compact ? "compact" : "json";
    TempDir dir("repo-archive-erase-" + form);
    const std::string path = dir.file("erase.db");
    auto alerts = simulated_alerts(300, 5, 40);
    {
      WriterOptions options;
      options.raw_format = format;
      Writer writer(path, options);
      for (size_t start = 0; start < alerts.size(); start += 25) {  // commits as the sink makes them
        writer.begin();
        for (size_t i = start; i < std::min(alerts.size(), start + 25); ++i) writer.add(*alerts[i]);
        writer.commit(25, 25);
      }
    }
    auto raw_of = [&](const Statement& s) { return std::string(compact ? s.blob(0) : s.text(0)); };
    std::vector<std::string> raws;
    double min_mjd = 0, max_mjd = 0;
    {
      Database db(path, Database::Mode::read_only);
      REQUIRE(db.scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = '" + std::string(compact ? "blob" : "text") +
                        "'") == 300);
      Statement s = db.prepare("SELECT raw FROM alerts");
      while (s.step()) raws.push_back(raw_of(s));
      Statement range = db.prepare("SELECT min(mjd_tai), max(mjd_tai) FROM alerts");
      REQUIRE(range.step());
      min_mjd = range.number(0);
      max_mjd = range.number(1);
    }
    REQUIRE(raws.size() == 300);
    // A deleted alert's marker, in the row's cell (not an overflow page) and naming that alert
    // alone: the start of its JSON text; of a compact record (which starts with the field names
    // every alert shares), 64 bytes after the longest prefix common to all rows (its last 64
    // bytes when fewer are left).
    size_t common = 0;
    if (compact) {
      common = raws.front().size();
      for (const std::string& raw : raws)
        common = static_cast<size_t>(std::mismatch(raw.begin(), raw.begin() + std::min(common, raw.size()),
                                                   raws.front().begin()).first - raw.begin());
    }
    auto marker_of = [&](const std::string& raw) {
      if (!compact) return raw.substr(0, 160);
      if (raw.size() - common >= 64) return raw.substr(common, 64);
      return raw.substr(raw.size() - std::min<size_t>(64, raw.size()));
    };
    auto read_file = [&] {
      std::ifstream in(path, std::ios::binary);
      return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    {
      // Every marker is found in the file before the deletion: the search can see what it looks for.
      Database(path, Database::Mode::read_write).execute("PRAGMA wal_checkpoint(TRUNCATE)");
      const std::string before = read_file();
      size_t found = 0;
      for (const std::string& raw : raws) found += before.find(marker_of(raw)) != std::string::npos ? 1 : 0;
      CHECK_MESSAGE(found == raws.size(), form);
    }
    ArchiveOptions options;
    options.now_mjd_tai = max_mjd;
    options.older_than_days = (max_mjd - min_mjd) / 2;  // about half the alerts go
    options.delete_only = true;
    ArchiveResult r = archive(path, options);
    REQUIRE(r.rows["alerts"] > 50);
    REQUIRE(r.rows["alerts"] < 250);
    std::set<std::string> kept;
    {
      Database db(path, Database::Mode::read_write);
      db.execute("PRAGMA wal_checkpoint(TRUNCATE)");
      Statement s = db.prepare("SELECT raw FROM alerts");
      while (s.step()) kept.insert(raw_of(s));
    }
    const std::string file = read_file();
    int deleted = 0, ambiguous = 0, readable = 0;
    for (const std::string& raw : raws) {
      if (kept.count(raw)) continue;
      ++deleted;
      const std::string marker = marker_of(raw);
      for (const std::string& other : raws)
        if (&other != &raw && other.find(marker) != std::string::npos) ++ambiguous;
      if (file.find(marker) != std::string::npos) ++readable;
    }
    REQUIRE_MESSAGE(ambiguous == 0, form);
    CHECK_MESSAGE(deleted == r.rows["alerts"], form);
    CHECK_MESSAGE(readable == 0, form);
    if (compact) MESSAGE("compact rows: " << common << " bytes common to all, " << raws.front().size() << " the first");
  }
}

TEST_CASE("archived alerts carry alerts.raw as JSON, whether the row holds it compact or as text") {
  TempDir dir("repo-archive-raw");
  const std::string path = dir.file("raw.db");
  auto alerts = simulated_alerts(40, 3, 5);
  {
    WriterOptions json;  // the first rows as a repository written before raw_format held them
    json.raw_format = WriterOptions::RawFormat::json;
    Writer before(path, json);
    before.begin();
    for (size_t i = 0; i < 20; ++i) before.add(*alerts[i]);
    before.commit(20, 20);
  }
  {
    Writer after(path);
    after.begin();
    for (size_t i = 20; i < alerts.size(); ++i) after.add(*alerts[i]);
    after.commit(20, 20);
    CHECK(after.database().scalar("SELECT count(*) FROM alerts WHERE typeof(raw) = 'blob'") == 20);
  }
  ArchiveOptions options;
  options.older_than_days = 0;
  options.now_mjd_tai = 1e6;  // every row is old
  ArchiveResult r = archive(path, options);
  REQUIRE(r.rows["alerts"] == 40);
  std::string alerts_file;
  for (const std::string& f : r.files)
    if (f.find("/alerts-") != std::string::npos) alerts_file = f;
  std::map<std::string, nlohmann::json> raw_by_id;
  for (const nlohmann::json& line : read_gzip_lines(alerts_file)) raw_by_id[line["alert_id"].get<std::string>()] = line["raw"];
  REQUIRE(raw_by_id.size() == 40);
  for (const RecordPtr& a : alerts) {
    const AlertCore& c = static_cast<const Alert&>(*a).core();
    nlohmann::json expected = raw_to_json(c.raw.root());
    for (const std::string& field : WriterOptions{}.raw_exclude) expected.erase(field);
    CHECK(raw_by_id[std::to_string(c.alert_id)] == expected);
  }
}
