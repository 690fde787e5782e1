// Real ZTF alerts (schema 3.3 and 4.01) through the repository writer, checked against python3-avro
// reading the same files: every distinct light-curve point (object, jd, fid, detection or upper
// limit) stored once, ndet per object, raw candidate fields kept.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/common/repository/reader.h"
#include "test/support/repository_test_support.h"
#include "actors/common/repository/writer.h"
#include "test/support/ztf_alerts.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

constexpr const char* kOracle = R"PY(
import sys, os
from avro.datafile import DataFileReader
from avro.io import DatumReader
points = {}
for d in sys.argv[1:]:
    for name in sorted(os.listdir(d)):
        if not name.endswith('.avro'):
            continue
        with DataFileReader(open(os.path.join(d, name), 'rb'), DatumReader()) as reader:
            for rec in reader:
                c = rec['candidate']
                s = points.setdefault(rec['objectId'], set())
                s.add((c['jd'], c['fid'], 'det'))
                for p in rec.get('prv_candidates') or []:
                    s.add((p['jd'], p['fid'], 'det' if p['magpsf'] is not None else 'ul'))
                for p in rec.get('fp_hists') or []:  # schema 4: forced photometry, failed ones left out
                    if p['procstatus'] == '0':
                        s.add((p['jd'], p['fid'], 'fp'))
for obj, s in sorted(points.items()):
    print(obj, len(s), sum(1 for p in s if p[2] == 'det'))
)PY";

// object -> (points, detections), as python3-avro sees the files.
std::map<std::string, std::pair<int64_t, int64_t>> oracle(const TempDir& dir, const std::vector<std::string>& folders) {
  std::ofstream(dir.file("oracle.py")) << kOracle;
  std::string command = "/usr/bin/python3 '" + dir.file("oracle.py") + "'";
  for (const std::string& f : folders) command += " '" + (ebs::test::data_dir() / f).string() + "'";
  ebs::test::CommandResult r = ebs::test::run_command(command, dir.path());
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  std::istringstream lines(r.out);
  std::string object;
  int64_t points = 0, detections = 0;
  while (lines >> object >> points >> detections) out[object] = {points, detections};
  return out;
}

}  // namespace

TEST_CASE("real ZTF alerts: light curves de-duplicated exactly as python3-avro counts them") {
  TempDir dir("repo-ztf");
  const std::vector<std::string> folders = {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"};
  std::vector<RecordPtr> alerts;
  for (const std::string& f : folders) {
    auto part = ebs::test::ztf_alerts(f);
    alerts.insert(alerts.end(), part.begin(), part.end());
  }
  REQUIRE(alerts.size() == 86);
  auto expected = oracle(dir, folders);
  REQUIRE(!expected.empty());

  const std::string path = dir.file("ztf.db");
  {
    Writer writer(path);
    writer.begin();
    for (const RecordPtr& r : alerts) writer.add(*r);
    writer.commit(alerts.size(), alerts.size());
    // Replayed in reverse order by a new writer: nothing changes.
    Writer again(path);
    again.begin();
    for (auto it = alerts.rbegin(); it != alerts.rend(); ++it) again.add(**it);
    again.commit(alerts.size(), alerts.size());
    CHECK(again.counts().alerts == 0);
    CHECK(again.counts().lightcurve_points == 0);
  }
  Reader reader(path);
  int64_t total = 0;
  for (const auto& object_counts : expected) {
    const auto& object = object_counts.first;
    const auto& counts = object_counts.second;  // clang 14 lambdas (INFO) cannot capture structured bindings
    INFO(object);
    auto lc = reader.lightcurve(object);
    REQUIRE(lc.is_object());
    CHECK(static_cast<int64_t>(lc["lightcurve"].size()) == counts.first);
    CHECK(lc["ndet"] == counts.second);
    total += counts.first;
  }
  CHECK(reader.database().scalar("SELECT count(*) FROM lightcurve") == total);
  CHECK(reader.database().scalar("SELECT count(*) FROM objects") == static_cast<int64_t>(expected.size()));

  // The raw record keeps the candidate's fields (here the decoder's field names), not the history.
  const auto& first = static_cast<const Alert&>(*alerts.front()).core();
  std::vector<nlohmann::json> rows;
  reader.query("SELECT raw FROM alerts WHERE alert_id = :id", {{"id", static_cast<int64_t>(first.alert_id)}},
               [&](const nlohmann::json& row) { rows.push_back(row); });
  REQUIRE(rows.size() == 1);
  const nlohmann::json& raw = rows[0]["raw"];
  CHECK(raw["objectId"] == first.object_id);
  CHECK(raw["candidate"]["candid"] == static_cast<int64_t>(first.alert_id));
  CHECK(raw["candidate"]["ra"].get<double>() == first.ra);
  CHECK(!raw.contains("cutoutScience"));
  CHECK(!raw.contains("prv_candidates"));

  // A cone around the first alert finds it at zero separation.
  auto hits = reader.cone(first.ra, first.dec, 1.0, 10);
  REQUIRE(!hits.empty());
  CHECK(hits[0]["alert_id"] == std::to_string(first.alert_id));
}
