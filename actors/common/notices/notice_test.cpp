#include "actors/common/notices/notice.h"
#include "actors/common/notices/notice_text.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/time/time_scale.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::notices;

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  REQUIRE(in.good());
  return s.str();
}
std::string gcn(const std::string& rel) { return ebs::test::data_dir().string() + "/gcn/" + rel; }
std::string fault_of(const std::string& text, const std::string& source = "t") {
  try {
    parse_notice(text, source);
  } catch (const Fault& f) {
    return f.place() + ": " + f.message();
  }
  return "";
}
}  // namespace

TEST_CASE("every GCN example notice parses, or is rejected as not a localization notice") {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> rejected;
  size_t parsed = 0;
  for (const auto& entry : fs::recursive_directory_iterator(ebs::test::data_dir().string() + "/gcn")) {
    std::string path = entry.path().string();
    if (!entry.is_regular_file() || path.find("schema.json") != std::string::npos || path.find("/core/") != std::string::npos)
      continue;
    std::string why = fault_of(read_text(path), path);
    if (why.empty()) ++parsed;
    else rejected[entry.path().filename().string()] = why;
  }
  // Notices that carry no position (first Fermi GBM alert, Swift without localization, a CHIME
  // DM update) and the Fermi LAT flare report (no trigger time).
  CHECK(rejected.size() == 6);
  // The schema's sky-map example holds a placeholder ("hhhh...") instead of base64: bad input.
  CHECK(rejected["guano.loc_map.example.json"].find("invalid base64") != std::string::npos);
  for (const char* name : {"trigger.alert.example.json", "Guano.example.json", "kafka_alert_swift_noloc.json",
                           "frb.update.example.json", "flare.example.json"}) {
    INFO(name);
    REQUIRE(rejected.count(name));
    CHECK(rejected[name].find("not a localization notice") != std::string::npos);
  }
  for (auto& [name, why] : rejected) MESSAGE(name << " -> " << why);
  CHECK(parsed >= 30);
}

TEST_CASE("LVK notice: GW event, embedded map, UTC -> TAI") {
  auto events = parse_notice(read_text(gcn("lvk-fink-mm/S230518h-initial.json")), "initial.json");
  REQUIRE(events.size() == 1);
  const SkyEvent& e = *events[0];
  CHECK(e.event_id == "S230518h");
  CHECK(e.kind == SkyEvent::Kind::gravitational_wave);
  CHECK(e.alert_type == "INITIAL");
  CHECK_FALSE(e.test);
  CHECK(e.significant);
  CHECK(e.far_hz == doctest::Approx(3.218261352069347e-10));
  // 2023-05-18T12:59:08.167 UTC = MJD 60082 + 46748.167 s; TAI = UTC + 37 s.
  double expected = 60082 + (46748.167 + 37) / 86400.0;
  CHECK(std::abs(e.mjd_tai - expected) * 86400 < 1e-3);
  CHECK(e.localization.shape == Localization::Shape::skymap);
  CHECK(e.localization.skymap_fits.size() > 600000);
  CHECK(e.localization.skymap_version == "2023-05-18T16:07:18Z");
  CHECK(e.notice_json.find("base64 characters") != std::string::npos);
  auto update = parse_notice(read_text(gcn("lvk-fink-mm/S230518h-update.json")), "update.json");
  CHECK(update[0]->alert_type == "UPDATE");
  CHECK(update[0]->sequence > e.sequence);  // time_created orders the notices
}

TEST_CASE("mock events are flagged and dropped by default") {
  auto mock = parse_notice(read_text(gcn("lvk-fink-mm/MS230518e-mock-MDC.json")), "mock.json");
  CHECK(mock[0]->test);
  CHECK(drop_reason(*mock[0], false, false).find("test") != std::string::npos);
  CHECK(drop_reason(*mock[0], true, false).empty());
  auto svom = parse_notice(read_text(gcn("gcn-schema-notices/svom/grm/trigger.example.json")), "svom.json");
  CHECK(svom[0]->test);  // alert_tense: test
  auto superk = parse_notice(read_text(gcn("gcn-schema-notices/superk/sn_alert.real.example.json")), "sk.json");
  CHECK_FALSE(superk[0]->test);
  SkyEvent quiet;
  quiet.significant = false;
  CHECK(drop_reason(quiet, false, true).find("significant") != std::string::npos);
  CHECK(drop_reason(quiet, false, false).empty());
  std::string voevent = read_text(gcn("voevent-fink-mm/voevent_number=825.xml"));
  voevent.replace(voevent.find("role=\"observation\""), 18, "role=\"test\"");
  CHECK(parse_notice(voevent, "v.xml")[0]->test);
}

TEST_CASE("GraceDB superevent MS220722v: GPS t_0 agrees with the README test vector") {
  auto events = parse_notice(read_text(gcn("gwcelery-tests/MS220722v.json")), "MS220722v.json");
  const SkyEvent& e = *events[0];
  CHECK(e.test);
  // DATE-OBS 2022-07-22T21:57:12.384 UTC = MJD-OBS 59782.914727 (UTC) = GPS 1342562250.38.
  double from_iso = time::iso_utc_to_mjd_tai("2022-07-22T21:57:12.384Z");
  CHECK(std::abs(e.mjd_tai - from_iso) * 86400 < 0.01);
  CHECK(std::abs(e.mjd_tai - (59782.914727 + 37 / 86400.0)) * 86400 < 0.1);
}

TEST_CASE("retractions, neutrinos, GRBs, X-rays, FRBs") {
  auto retraction = parse_notice(
      R"({"alert_type":"RETRACTION","time_created":"2023-05-18T17:00:00Z","superevent_id":"S230518h","event":null,"external_coinc":null})",
      "r.json");
  CHECK(retraction[0]->retracted);
  auto swift = parse_notice(read_text(gcn("gcn-schema-notices/swift/bat/Guano.Retraction.example.json")), "s.json");
  CHECK(swift[0]->retracted);
  CHECK(swift[0]->event_id == "694215995");
  auto chime = parse_notice(read_text(gcn("gcn-schema-notices/chime/frb.retraction.example.json")), "c.json");
  CHECK(chime[0]->retracted);

  auto ice = parse_notice(read_text(gcn("gcn-schema-notices/icecube/single_neutrino_alerts.gold_bronze_track_alerts.example.json")), "i.json");
  CHECK(ice[0]->kind == SkyEvent::Kind::neutrino);
  CHECK(ice[0]->localization.shape == Localization::Shape::circle);
  CHECK(ice[0]->localization.radius_deg == 0.5);
  CHECK(ice[0]->significance == doctest::Approx(0.34064));
  auto search = parse_notice(read_text(gcn("gcn-schema-notices/icecube/lvk_nu_track_search.example.json")), "n.json");
  REQUIRE(search.size() == 2);
  CHECK(search[1]->mjd_tai - search[0]->mjd_tai == doctest::Approx((222.46 - 12.91) / 86400).epsilon(1e-6));
  auto gbm = parse_notice(read_text(gcn("gcn-schema-notices/fermi/gbm/trigger.final.example.json")), "g.json");
  CHECK(gbm[0]->kind == SkyEvent::Kind::gamma_ray_burst);
  CHECK(gbm[0]->sequence == 7);
  CHECK(gbm[0]->localization.containment_probability == 0.68);
  auto ep = parse_notice(read_text(gcn("gwcelery-tests/kafka_alert_einteinprobe.json")), "e.json");
  CHECK(ep[0]->kind == SkyEvent::Kind::x_ray);
  auto frb = parse_notice(read_text(gcn("gcn-schema-notices/chime/frb.detection.example.json")), "f.json");
  CHECK(frb[0]->localization.shape == Localization::Shape::ellipse);
  CHECK(frb[0]->localization.semi_major_deg >= frb[0]->localization.semi_minor_deg);
  auto swift_loc = parse_notice(read_text(gcn("gwcelery-tests/kafka_alert_swift.json")), "s.json");
  CHECK(swift_loc[0]->localization.radius_deg == 0.03);
}

TEST_CASE("VOEvent IceCube notices") {
  auto gold = parse_notice(read_text(gcn("voevent-fink-mm/voevent_number=45412.xml")), "gold.xml");
  // Which file holds which stream is not fixed here: check every file's content instead.
  for (const char* file : {"voevent_number=825.xml", "voevent_number=3028.xml", "voevent_number=45412.xml"}) {
    auto events = parse_notice(read_text(gcn(std::string("voevent-fink-mm/") + file)), file);
    REQUIRE(events.size() == 1);
    const SkyEvent& e = *events[0];
    CHECK(e.kind == SkyEvent::Kind::neutrino);
    CHECK(e.localization.shape == Localization::Shape::circle);
    CHECK(e.far_hz > 0);
    CHECK(e.far_hz < 1e-7);  // FAR per year / 3.156e7
    CHECK(e.event_id.find('_') != std::string::npos);
  }
  auto cascade = parse_notice(read_text(gcn("voevent-fink-mm/voevent_number=825.xml")), "825.xml");
  if (cascade[0]->event_id == "136889_25590129") {
    CHECK(cascade[0]->localization.radius_deg == doctest::Approx(12.8963));
    CHECK(cascade[0]->far_hz == doctest::Approx(0.3110 / (365.25 * 86400)));
    CHECK(cascade[0]->mjd_tai == doctest::Approx(time::iso_utc_to_mjd_tai("2022-08-01T04:08:34.26")));
  }
}

TEST_CASE("bad input: a Fault with the notice id and the reason") {
  std::string lvk = read_text(gcn("lvk-fink-mm/S230518h-initial.json"));
  auto corrupt = lvk;
  corrupt.replace(corrupt.find("\"skymap\": \"") + 11, 4, "!!!!");
  std::string why = fault_of(corrupt);
  CHECK(why.find("S230518h") != std::string::npos);
  CHECK(why.find("event.skymap") != std::string::npos);
  std::string not_fits = R"({"alert_type":"INITIAL","time_created":"2023-05-18T16:07:18Z","superevent_id":"S1",
    "event":{"time":"2023-05-18T12:59:08.167Z","far":1e-9,"significant":true,"skymap":"aGVsbG8gd29ybGQh"}})";
  CHECK(fault_of(not_fits).find("S1") != std::string::npos);
  std::string no_time = R"({"alert_type":"INITIAL","time_created":"2023-05-18T16:07:18Z","superevent_id":"S2","event":{"far":1}})";
  CHECK(fault_of(no_time).find("event.time") != std::string::npos);
  CHECK(fault_of(R"({"alert_type":"BOGUS","superevent_id":"S3"})").find("alert_type") != std::string::npos);
  CHECK(fault_of("<VOEvent><broken").find("not a VOEvent") != std::string::npos);
  CHECK(fault_of("{nope").find("not valid JSON") != std::string::npos);
  CHECK(fault_of(R"({"mission":"IceCube","id":["x"],"trigger_time":"2023-01-01T00:00:00Z","ra":1,"dec":2,"ra_dec_error":"big"})") != "");
}

TEST_CASE("notices with a bad superevent_id, a negative FAR or a position off the sky are refused") {
  using nlohmann::json;
  json lvk = json::parse(read_text(gcn("lvk-fink-mm/S230518h-initial.json")));
  auto with = [](json notice, const std::function<void(json&)>& change) {
    change(notice);
    return notice.dump();
  };
  CHECK(fault_of(with(lvk, [](json& n) { n.erase("superevent_id"); })).find("no superevent_id") != std::string::npos);
  CHECK(fault_of(with(lvk, [](json& n) { n["superevent_id"] = nullptr; })).find("no superevent_id") !=
        std::string::npos);
  CHECK(fault_of(with(lvk, [](json& n) { n["superevent_id"] = 230518; })) ==
        "t (notice ?):superevent_id: superevent_id must be a non-empty string, not 230518");
  // A superevent_id holding a long "skymap" value: the fault shows it as written, not as its
  // placeholder of a cut map.
  const std::string long_map(1500, 'A');
  CHECK(fault_of(with(lvk, [&](json& n) { n["superevent_id"] = {{"skymap", long_map}}; })) ==
        "t (notice ?):superevent_id: superevent_id must be a non-empty string, not {\"skymap\":\"" + long_map + "\"}");
  CHECK(fault_of(with(lvk, [](json& n) { n["event"]["far"] = -1e-9; })).find("S230518h):far: FAR") !=
        std::string::npos);
  CHECK(fault_of(with(lvk, [](json& n) { n["event"]["far"] = -1e-9; })).find("is negative") != std::string::npos);

  json icecube = json::parse(read_text(gcn("gcn-schema-notices/icecube/single_neutrino_alerts.gold_bronze_track_alerts.example.json")));
  CHECK_NOTHROW(parse_notice(icecube.dump(), "t"));
  CHECK(fault_of(with(icecube, [](json& n) { n["ra"] = 400; })).find("ra 400.000000 is not in [0, 360] degrees") !=
        std::string::npos);
  CHECK(fault_of(with(icecube, [](json& n) { n["far"] = -2.0; })).find("is negative") != std::string::npos);
}

TEST_CASE("a sky map cut out of the notice's text before the JSON parse reads as the whole parse does") {
  using nlohmann::json;
  std::string lvk = read_text(gcn("lvk-fink-mm/S230518h-initial.json"));
  json notice = json::parse(lvk);
  const std::string map = notice["event"]["skymap"];
  // The same notice with the first character of each "skymap" value written "\u00XX" (the same
  // JSON value): a string with an escape is never cut, so this one goes through the parser whole.
  auto whole_parse = [](std::string text) {
    for (size_t key = text.find("\"skymap\":"); key != std::string::npos; key = text.find("\"skymap\":", key + 1)) {
      size_t open = text.find_first_not_of(" \t\r\n", key + 9);
      REQUIRE(open != std::string::npos);
      REQUIRE(text[open] == '"');
      size_t at = open + 1;
      REQUIRE(at < text.find('"', at));  // inside that value
      char escape[7];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned char>(text[at]));
      text.replace(at, 1, escape);
    }
    return text;
  };
  auto same_number = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
  auto same_events = [&](const std::string& text) {
    auto cut = parse_notice(text, "t");
    const std::string whole_text = whole_parse(text);
    CHECK_FALSE(NoticeText(whole_text).cut_any());
    auto whole = parse_notice(whole_text, "t");
    REQUIRE(cut.size() == 1);
    REQUIRE(whole.size() == 1);
    const SkyEvent& a = *cut[0];
    const SkyEvent& b = *whole[0];
    CHECK(a.event_id == b.event_id);
    CHECK(a.source == b.source);
    CHECK(a.kind == b.kind);
    CHECK(a.alert_type == b.alert_type);
    CHECK(a.sequence == b.sequence);
    CHECK(same_number(a.mjd_tai, b.mjd_tai));
    CHECK(same_number(a.far_hz, b.far_hz));
    CHECK(same_number(a.significance, b.significance));
    CHECK(a.significant == b.significant);
    CHECK(a.test == b.test);
    CHECK(a.retracted == b.retracted);
    const Localization& p = a.localization;
    const Localization& q = b.localization;
    CHECK(p.shape == q.shape);
    CHECK(same_number(p.ra, q.ra));
    CHECK(same_number(p.dec, q.dec));
    CHECK(same_number(p.radius_deg, q.radius_deg));
    CHECK(same_number(p.semi_major_deg, q.semi_major_deg));
    CHECK(same_number(p.semi_minor_deg, q.semi_minor_deg));
    CHECK(same_number(p.position_angle_deg, q.position_angle_deg));
    CHECK(same_number(p.containment_probability, q.containment_probability));
    CHECK(p.skymap_fits == q.skymap_fits);
    CHECK(p.skymap_url == q.skymap_url);
    CHECK(p.skymap_version == q.skymap_version);
    CHECK(a.notice_json == b.notice_json);
    return cut[0];
  };
  auto event = same_events(lvk);
  CHECK(event->localization.skymap_fits.size() > 600000);
  CHECK(event->notice_json.find("\"<" + std::to_string(map.size()) + " base64 characters>\"") != std::string::npos);

  // Another "skymap" key than event.skymap is kept in the notice's JSON as it was written.
  json extra = notice;
  extra["skymap"] = map.substr(0, 5000);
  event = same_events(extra.dump());
  CHECK(event->notice_json.find(map.substr(0, 5000)) != std::string::npos);

  // A value that spells a NUL, as a placeholder starts, leaves the text whole: it is not taken for
  // a cut map (a cut map would be put back in its place).
  json forged = notice;
  forged["event"]["pipeline"] = std::string("\0" "0", 2);
  event = parse_notice(forged.dump(), "t")[0];
  CHECK(event->notice_json.find(R"("pipeline":"\u00000")") != std::string::npos);
  CHECK(event->localization.skymap_fits.size() > 600000);

  // A GraceDB record with a long "skymap" value keeps it in its JSON.
  json gracedb = json::parse(read_text(gcn("gwcelery-tests/MS220722v.json")));
  gracedb["skymap"] = map.substr(0, 5000);
  CHECK(parse_notice(gracedb.dump(), "t")[0]->notice_json == gracedb.dump());

  // A GCN Localization's healpix_file: the same map as the LVK notice's.
  json guano = json::parse(read_text(gcn("gcn-schema-notices/swift/bat/guano.loc_map.example.json")));
  guano["healpix_file"] = map;
  auto grb = parse_notice(guano.dump(), "t");
  REQUIRE(grb.size() == 1);
  CHECK(grb[0]->localization.skymap_fits == parse_notice(lvk, "t")[0]->localization.skymap_fits);
  CHECK(grb[0]->notice_json.find("\"<" + std::to_string(map.size()) + " base64 characters>\"") != std::string::npos);

  // What the parser refuses in a map's string is still refused: a raw control character, a byte
  // that is not UTF-8.
  for (char bad : {'\t', '\x01', '\xff'}) {
    std::string text = lvk;
    text[text.find("\"skymap\": \"") + 2000] = bad;
    CHECK(fault_of(text).find("not valid JSON") != std::string::npos);
  }
}
