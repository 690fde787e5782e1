#include "actors/common/repository/writer.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "actors/common/skymap/skymap.h"
#include "test/support/repository_test_support.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

void write_all(Writer& writer, const std::vector<RecordPtr>& records) {
  writer.begin();
  for (const RecordPtr& r : records) writer.add(*r);
  writer.commit(records.size(), records.size());
}

int64_t count(const Writer& w, const std::string& sql) { return w.database().scalar(sql); }

// A real multi-order BAYESTAR map (the shared data's MS220722v).
const std::string& real_skymap() {
  static const std::string bytes =
      ebs::test::read_file((ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string());
  return bytes;
}

}  // namespace

TEST_CASE("a replayed stream writes no duplicates") {
  TempDir dir("repo-replay");
  auto alerts = simulated_alerts(3000, 5, 200);
  Writer writer(dir.file("r.db"));
  write_all(writer, alerts);
  const int64_t alerts_rows = count(writer, "SELECT count(*) FROM alerts");
  const int64_t points = count(writer, "SELECT count(*) FROM lightcurve");
  const int64_t ndet = count(writer, "SELECT sum(ndet) FROM objects");
  const int64_t nalerts = count(writer, "SELECT sum(nalerts) FROM objects");
  CHECK(alerts_rows == 3000);
  CHECK(nalerts == 3000);

  // The same stream again, from a fresh writer (as after a restart: an empty point cache).
  Writer again(dir.file("r.db"));
  write_all(again, alerts);
  CHECK(again.counts().alerts == 0);
  CHECK(again.counts().alerts_duplicate == 3000);
  CHECK(count(again, "SELECT count(*) FROM alerts") == alerts_rows);
  CHECK(count(again, "SELECT count(*) FROM lightcurve") == points);
  CHECK(count(again, "SELECT sum(ndet) FROM objects") == ndet);
  CHECK(count(again, "SELECT sum(nalerts) FROM objects") == nalerts);
}

TEST_CASE("light-curve points are stored once per object, band and kind within 0.1 s (the duplicate rule)") {
  TempDir dir("repo-lc");
  auto alerts = simulated_alerts(4000, 9, 100);
  // What the light curves must hold: every point any alert carried, in arrival order (each alert's
  // own detection first), unless a point of the same object, kind and band within 0.1 s came
  // before (the simulator's alerts are 30 ms apart: an object's consecutive ones may be one point).
  std::map<std::tuple<std::string, int, std::string>, std::vector<double>> kept;
  std::set<std::tuple<std::string, double, std::string, int>> expected;
  std::map<std::string, std::set<std::pair<double, std::string>>> detections;
  auto carry = [&](const std::string& object, double mjd, const std::string& band, Photometry::Kind kind) {
    std::vector<double>& times = kept[{object, static_cast<int>(kind), band}];
    for (double t : times)
      if (std::abs(t - mjd) * 86400 <= 0.1) return;
    times.push_back(mjd);
    expected.insert({object, mjd, band, static_cast<int>(kind)});
    if (kind == Photometry::Kind::detection) detections[object].insert({mjd, band});
  };
  for (const RecordPtr& r : alerts) {
    const AlertCore& c = static_cast<const Alert&>(*r).core();
    carry(c.object_id, c.mjd_tai, c.band, Photometry::Kind::detection);
    for (const Photometry& p : c.history) carry(c.object_id, p.mjd_tai, p.band, p.kind);
  }
  Writer writer(dir.file("lc.db"));
  write_all(writer, alerts);
  CHECK(count(writer, "SELECT count(*) FROM lightcurve") == static_cast<int64_t>(expected.size()));
  // Far fewer rows than the alerts carried (each alert repeats up to 30 earlier points).
  size_t carried = 0;
  for (const RecordPtr& r : alerts) carried += static_cast<const Alert&>(*r).core().history.size() + 1;
  CHECK(expected.size() * 3 < carried);
  // ndet is the number of distinct detections of the object.
  Statement s = writer.database().prepare("SELECT object_id, ndet FROM objects");
  size_t objects = 0;
  while (s.step()) {
    ++objects;
    CHECK(s.integer(1) == static_cast<int64_t>(detections[std::string(s.text(0))].size()));
  }
  CHECK(objects == detections.size());
}

TEST_CASE("the light-curve cache stays within its byte bound, and points are still stored once") {
  TempDir dir("repo-lc-bound");
  // 600 objects with up to 30 points each: a few hundred KB of cached points unbounded.
  auto alerts = simulated_alerts(6000, 21, 600);
  Writer unbounded(dir.file("unbounded.db"));
  write_all(unbounded, alerts);
  const size_t unbounded_bytes = unbounded.lightcurve_cache_bytes();
  CHECK(unbounded_bytes > 200 * 1024);

  WriterOptions options;
  options.lightcurve_cache_bytes = 32 * 1024;
  Writer bounded(dir.file("bounded.db"), options);
  bounded.begin();
  size_t most = 0;
  for (const RecordPtr& r : alerts) {
    bounded.add(*r);
    most = std::max(most, bounded.lightcurve_cache_bytes());
  }
  bounded.commit(alerts.size(), alerts.size());
  // The bound plus the one object loaded when it was reached (30 points: ~2 KB).
  CHECK(most <= options.lightcurve_cache_bytes + 4096);
  CHECK(most >= options.lightcurve_cache_bytes);  // it was reached: the cache started over
  // Starting over costs reads, never rows: the same light curves as without a bound.
  CHECK(count(bounded, "SELECT count(*) FROM lightcurve") == count(unbounded, "SELECT count(*) FROM lightcurve"));
  CHECK(count(bounded, "SELECT sum(ndet) FROM objects") == count(unbounded, "SELECT sum(ndet) FROM objects"));
}

TEST_CASE("an alert's points go in statements of many rows; ndet counts only the detections written") {
  TempDir dir("repo-lc-rows");
  // 37 detections and 20 upper limits besides the alert's own detection: more rows than one
  // statement takes (detections 16 + 16 + 6, the rest 16 + 4), each row with its own values.
  std::vector<Photometry> history;
  for (int i = 0; i < 37; ++i) history.push_back(detection(59000 + i, i % 2 ? "g" : "r", 17 + i * 0.01));
  for (int i = 0; i < 20; ++i) {
    Photometry limit;
    limit.mjd_tai = 58900 + i;
    limit.band = "i";
    limit.kind = Photometry::Kind::upper_limit;
    limit.limit_mag = 20 + i * 0.1;
    history.push_back(limit);
  }
  auto first = make_alert(1, "ZTFrows", 10, 20, 59100, history);
  const std::string db = dir.file("rows.db");
  Writer writer(db);
  // A second writer on the same database that knows the object (its cache loaded empty) before
  // the first one stores the points: its inserts of them are ignored by the database, not by
  // its cache, and its ndet must count only what it wrote.
  Writer other(db);
  write_all(other, {make_alert(2, "ZTFrows", 10, 20, 58000)});
  write_all(writer, {first});
  CHECK(count(writer, "SELECT count(*) FROM lightcurve WHERE kind = 'detection'") == 39);
  CHECK(count(writer, "SELECT count(*) FROM lightcurve WHERE kind = 'upper_limit'") == 20);
  CHECK(count(writer, "SELECT count(*) FROM lightcurve WHERE band = 'g' AND abs(mag - (17 + (mjd_tai - 59000) * "
                      "0.01)) < 1e-9 AND alert_id = 1") == 18);
  CHECK(count(writer, "SELECT count(*) FROM lightcurve WHERE kind = 'upper_limit' AND abs(limit_mag - (20 + "
                      "(mjd_tai - 58900) * 0.1)) < 1e-9") == 20);
  CHECK(count(writer, "SELECT ndet FROM objects") == 39);
  // Alert 3 carries alert 1's history again, two new detections and a new limit; `other` has
  // cached the object with alert 2's one point only.
  std::vector<Photometry> again = history;
  again.push_back(detection(59050, "r", 16));
  Photometry limit;
  limit.mjd_tai = 58950;
  limit.band = "i";
  limit.kind = Photometry::Kind::upper_limit;
  again.push_back(limit);
  write_all(other, {make_alert(3, "ZTFrows", 10, 20, 59200, again)});
  CHECK(other.counts().lightcurve_points == 1 + 3);  // alert 2's detection, then 3's two and a limit
  CHECK(count(other, "SELECT count(*) FROM lightcurve") == 39 + 20 + 3);
  CHECK(count(other, "SELECT ndet FROM objects") == 39 + 2);
}

TEST_CASE("a failed light-curve insert leaves no point cached that the database does not hold") {
  TempDir dir("repo-lc-failed");
  Writer writer(dir.file("failed.db"));
  std::vector<Photometry> history;
  for (int i = 0; i < 20; ++i) history.push_back(detection(59000 + i, "r", 17));
  // The database refuses one point of the history: the alert's insert of points fails midway.
  writer.database().execute(
      "CREATE TRIGGER refuse BEFORE INSERT ON lightcurve WHEN new.mjd_tai = 59010 "
      "BEGIN SELECT RAISE(ABORT, 'refused'); END");
  writer.begin();
  CHECK_THROWS_AS(writer.add(*make_alert(1, "ZTFfail", 10, 20, 59100, history)), SqliteError);
  writer.database().execute("DROP TRIGGER refuse");
  // Without a rollback, the next alert of the object still writes every point not stored.
  writer.add(*make_alert(2, "ZTFfail", 10, 20, 59200, history));
  writer.commit(2, 2);
  CHECK(count(writer, "SELECT count(*) FROM lightcurve WHERE mjd_tai < 59100") == 20);
}

TEST_CASE("annotations are appended, never overwritten, and carry provenance") {
  TempDir dir("repo-ann");
  Writer writer(dir.file("a.db"));
  auto alert = make_alert(1001, "obj-a", 10, 20, 60000.1);
  auto v1 = alert->annotated(classification("SN", 0.7, "1"));
  auto v1_again = alert->annotated(classification("SN", 0.7, "1"));
  auto v2 = v1->annotated(classification("SN", 0.9, "2"));  // a newer model says more
  write_all(writer, {alert, v1});
  CHECK(count(writer, "SELECT count(*) FROM annotations") == 1);
  write_all(writer, {v1_again, v2});  // the replay adds nothing, the new version appends
  CHECK(count(writer, "SELECT count(*) FROM annotations") == 2);
  CHECK(count(writer, "SELECT count(*) FROM alerts") == 1);
  Statement s = writer.database().prepare(
      "SELECT version, value, actor, actor_type, config_hash FROM annotations ORDER BY annotation_id");
  REQUIRE(s.step());
  CHECK(s.text(0) == "1");
  CHECK(s.number(1) == doctest::Approx(0.7));
  CHECK(s.text(2) == "classifier");
  CHECK(s.text(3) == "test-classifier");
  CHECK(s.text(4) == "cafe");
  REQUIRE(s.step());
  CHECK(s.text(0) == "2");
  CHECK(s.number(1) == doctest::Approx(0.9));
}

TEST_CASE("an alert's many annotations: every row with its own values, replays and repeats ignored row by row") {
  // 20 annotations: statements of 8, 8 and 4 rows; two repeated in the same alert, one within a
  // statement (the second at index 5, both in the first), one across statements (index 19).
  TempDir dir("repo-many-ann");
  Writer writer(dir.file("a.db"));
  std::shared_ptr<const Alert> alert = make_alert(2002, "obj-m", 10, 20, 60000.1);
  for (int i = 0; i < 18; ++i) {
    alert = alert->annotated(classification("class-" + std::to_string(i), i / 100.0));
    if (i == 4) alert = alert->annotated(classification("class-1", 0.01));  // index 5: the second's repeat
  }
  alert = alert->annotated(classification("class-3", 0.03));  // index 19: the fourth's repeat
  REQUIRE(alert->annotations().list().size() == 20);
  write_all(writer, {alert});
  CHECK(writer.counts().annotations == 18);
  Statement rows = writer.database().prepare("SELECT name, value, fingerprint FROM annotations ORDER BY annotation_id");
  int row = 0;
  for (; rows.step(); ++row) {
    CHECK(rows.text(0) == "class-" + std::to_string(row));
    CHECK(rows.number(1) == row / 100.0);
    CHECK(rows.text(2) == annotation_fingerprint(classification("class-" + std::to_string(row), row / 100.0)));
  }
  CHECK(row == 18);

  // The same alert again with one annotation more: only that one is new.
  Writer again(dir.file("a.db"));
  write_all(again, {alert->annotated(classification("late", 0.5))});
  CHECK(again.counts().annotations == 1);
  CHECK(count(again, "SELECT count(*) FROM annotations") == 19);
  CHECK(count(again, "SELECT count(*) FROM annotations WHERE name = 'late' AND alert_id = 2002") == 1);
}

TEST_CASE("raw records are kept as JSON without the fields stored apart") {
  TempDir dir("repo-raw");
  auto alerts = simulated_alerts(50, 3, 5);
  Writer writer(dir.file("raw.db"));
  write_all(writer, alerts);
  Statement s = writer.database().prepare("SELECT raw_json(raw) FROM alerts WHERE alert_id = ?1");
  const auto& first = static_cast<const Alert&>(*alerts[40]).core();
  s.bind(1, static_cast<int64_t>(first.alert_id));
  REQUIRE(s.step());
  auto raw = nlohmann::json::parse(s.text(0));
  CHECK(raw["objectId"] == first.object_id);
  CHECK(raw["candidate"]["fid"].is_number());
  CHECK(raw["candidate"]["rb"].is_number());
  CHECK(!raw.contains("prv_candidates"));
}

TEST_CASE("sky events and coincidences are stored once") {
  TempDir dir("repo-mm");
  Writer writer(dir.file("mm.db"));
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S230518h";
  event->sequence = 2;
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->mjd_tai = 60082.5;
  event->far_hz = 1e-9;
  event->localization.shape = Localization::Shape::skymap;
  event->localization.skymap_fits = real_skymap();
  auto co = std::make_shared<Coincidence>();
  co->event_id = "S230518h";
  co->event_sequence = 2;
  co->alert_id = 77;
  co->object_id = "obj-77";
  co->time_difference_s = 3600;
  co->terms = {{"spatial", 0.8, "skymap"}, {"temporal", 0.5, "window"}};
  write_all(writer, {event, co, event, co});
  CHECK(count(writer, "SELECT count(*) FROM sky_events") == 1);
  CHECK(count(writer, "SELECT count(*) FROM coincidences") == 1);
  CHECK(count(writer, "SELECT skymap_bytes FROM sky_events") == static_cast<int64_t>(real_skymap().size()));
  // The 50 % and 90 % credible regions are stored with the event, once, as MOC 2.0 JSON whose
  // area is the map's searched area within one pixel at the map's maximum order.
  CHECK(count(writer, "SELECT count(*) FROM sky_event_mocs") == 2);
  const skymap::Skymap map = skymap::Skymap::from_bytes(std::string_view(real_skymap()), "map");
  const double pixel_deg2 = skymap::pixel_area(map.max_order()) * std::pow(180 / M_PI, 2);
  Statement mocs = writer.database().prepare(
      "SELECT level, max_order, area_deg2, cells, moc FROM sky_event_mocs WHERE event_id = 'S230518h' AND sequence = 2 "
      "ORDER BY level");
  std::vector<double> levels;
  while (mocs.step()) {
    const double level = mocs.number(0);
    levels.push_back(level);
    CHECK(mocs.integer(1) == map.max_order());
    CHECK(std::abs(mocs.number(2) - map.credible_area(level)) <= pixel_deg2);
    const nlohmann::json moc = nlohmann::json::parse(mocs.text(4));
    int64_t cells = 0;
    for (const auto& [order, list] : moc.items()) cells += static_cast<int64_t>(list.size());
    CHECK(cells == mocs.integer(3));
    CHECK(moc.contains(std::to_string(map.max_order())));
  }
  CHECK(levels == std::vector<double>{0.5, 0.9});
}

TEST_CASE("a sky event whose map cannot be read is rejected whole: no event row, no MOC") {
  TempDir dir("repo-bad-map");
  Writer writer(dir.file("bad.db"));
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S230518h";
  event->sequence = 1;
  event->localization.shape = Localization::Shape::skymap;
  event->localization.skymap_fits = "SIMPLE  = not a fits file";
  writer.begin();
  const AddResult result = writer.add(*event);
  writer.commit(1, 0);
  CHECK(result.outcome == AddResult::Outcome::rejected);
  CHECK(result.reason.find("S230518h") != std::string::npos);
  CHECK(count(writer, "SELECT count(*) FROM sky_events") == 0);
  CHECK(count(writer, "SELECT count(*) FROM sky_event_mocs") == 0);
}

TEST_CASE("bad records are refused before anything is written") {
  auto no_object = make_alert(5, "", 10, 10, 60000);
  auto bad_dec = make_alert(6, "o", 10, 91, 60000);
  CHECK_THROWS_WITH_AS(Writer::validate(*no_object, "db"), doctest::Contains("without an object_id"), Fault);
  CHECK_THROWS_WITH_AS(Writer::validate(*bad_dec, "db"), doctest::Contains("no valid position"), Fault);
  DeadLetter letter;
  CHECK_THROWS_WITH_AS(Writer::validate(letter, "db"), doctest::Contains("not DeadLetter"), Fault);
}

TEST_CASE("cutouts go to the file store beside the database") {
  TempDir dir("repo-cut");
  WriterOptions options;
  options.cutouts_dir = dir.file("cutouts");
  Writer writer(dir.file("c.db"), options);
  auto buffer = std::make_shared<std::string>("FITSBYTES");
  auto core = make_core(123456, "obj", 1, 1, 60000);
  core->buffers = buffer;
  core->cutouts = {{Cutout::Kind::science, "fits.gz", std::string_view(*buffer)}};
  auto alert = std::make_shared<const Alert>(core);
  write_all(writer, {alert, alert});
  CHECK(count(writer, "SELECT count(*) FROM cutouts") == 1);
  Statement s = writer.database().prepare("SELECT path FROM cutouts");
  REQUIRE(s.step());
  CHECK(ebs::test::read_file(std::string(s.text(0))) == "FITSBYTES");
}

TEST_CASE("a notice's sky map goes to the file store beside the cutouts, once") {
  TempDir dir("repo-map");
  WriterOptions options;
  options.cutouts_dir = dir.file("cutouts");
  Writer writer(dir.file("m.db"), options);
  auto event = std::make_shared<SkyEvent>();
  event->event_id = "S230518h/odd name";
  event->sequence = 3;
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->mjd_tai = 60082.5;
  event->localization.shape = Localization::Shape::skymap;
  event->localization.skymap_fits = real_skymap();
  write_all(writer, {event, event});
  CHECK(skymap_store_name(event->event_id, 3) == "skymaps/S230518h_odd_name-3.fits");
  const std::filesystem::path file = std::filesystem::path(options.cutouts_dir) / "skymaps/S230518h_odd_name-3.fits";
  CHECK(ebs::test::read_file(file) == real_skymap());
  CHECK(!std::filesystem::exists(file.string() + ".partial"));
}
