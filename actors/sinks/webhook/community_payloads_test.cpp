// The webhook's community formats against local HTTP peers (never the real services): TNS AT
// reports of real ZTF alerts, read by a server that parses the form as TNS's bulk-report API does
// and checked against python3-avro's reading of the same alert files; Astro-COLIBRI-like events.
#include <doctest/doctest.h>
#include <httplib.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <map>
#include <sstream>
#include <thread>

#include "actors/sinks/webhook/community_payloads.h"
#include "actors/sinks/webhook/webhook_sink.h"
#include "engine/runtime/actor_logic.h"
#include "test/support/collecting_emitter.h"
#include "test/support/python_oracle.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"
#include "engine/time/time_scale.h"

using namespace ebs;
using nlohmann::json;

namespace {

// application/x-www-form-urlencoded fields, decoded ('+' and %XX).
std::map<std::string, std::string> form_fields(const std::string& body) {
  auto decode = [](const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '+') out += ' ';
      else if (text[i] == '%' && i + 2 < text.size()) {
        out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else out += text[i];
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  std::istringstream in(body);
  for (std::string pair; std::getline(in, pair, '&');) {
    size_t eq = pair.find('=');
    fields[decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
  }
  return fields;
}

// A loopback peer shaped like TNS's bulk-report endpoint: form fields api_key and data, a
// tns_marker User-Agent; answers 200 with a report id, or 401 to a wrong key.
struct TnsPeer {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::mutex mutex;
  std::vector<json> reports;
  std::vector<std::string> user_agents;

  TnsPeer() {
    // A content reader: Debian's cpp-httplib is a shared library built with an 8 KiB limit on form
    // bodies (413), and a report with a long light curve is longer.
    server.Post("/api/bulk-report", [this](const httplib::Request& req, httplib::Response& res,
                                           const httplib::ContentReader& read) {
      std::string body;
      read([&](const char* data, size_t length) {
        body.append(data, length);
        return true;
      });
      const auto form = form_fields(body);
      std::lock_guard lock(mutex);
      if (form.count("api_key") == 0 || form.at("api_key") != "secret-key") {
        res.status = 401;
        res.set_content(R"({"id_code": 401, "id_message": "Unauthorized"})", "application/json");
        return;
      }
      reports.push_back(json::parse(form.at("data")));
      user_agents.push_back(req.get_header_value("User-Agent"));
      res.status = 200;
      res.set_content(R"({"id_code": 200, "id_message": "OK", "data": {"report_id": 123}})", "application/json");
    });
    server.Post("/events", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      reports.push_back(json::parse(req.body));
      res.status = 200;
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 200 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~TnsPeer() {
    server.stop();
    thread.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

struct Sink {
  ActorRegistry registry;
  ActorContext context;
  std::unique_ptr<ActorLogic> logic;
  explicit Sink(const std::string& yaml) {
    register_webhook_sink(registry);
    const ActorType& type = *registry.find("webhook");
    context = ebs::test::make_context(type, yaml);
    std::vector<Problem> problems;
    type.check(context.config, problems);
    for (const Problem& p : problems) FAIL(p.place << ": " << p.message);
    logic = type.create(context);
    logic->open(context);
  }
};

const char* kTnsConfig =
    "tns: {api_key: secret-key, bot_id: '9999', bot_name: ebs_test_bot, reporting_group_id: '1', "
    "discovery_data_source_id: '48', reporter: 'A. Astronomer on behalf of ebs-flow'}";

}  // namespace

TEST_CASE("TNS AT reports of real ZTF alerts, bulk-report layout, to a local TNS-like peer") {
  auto alerts = test::ztf_alerts("ztf/kowalski-v3.3-v4.01");
  REQUIRE(alerts.size() == 36);
  // What python3-avro reads in the same files: object, detections (with magpsf), first detection
  // jd, the last upper limit before it (jd, diffmaglim, fid).
  const std::string oracle = test::run_python_oracle(R"py(
import avro.datafile, avro.io, glob, sys
for f in sorted(glob.glob(sys.argv[1] + '/*.avro')):
    with avro.datafile.DataFileReader(open(f, 'rb'), avro.io.DatumReader()) as r:
        for a in r:
            c = a['candidate']
            pos = lambda p: p['isdiffpos'] in ('t', '1')
            dets = [(p['jd'], p['magpsf']) for p in (a['prv_candidates'] or []) if p['candid'] is not None and p['magpsf'] is not None and pos(p)]
            if pos(c): dets.append((c['jd'], c['magpsf']))
            if not dets: print(a['objectId'], c['candid'], 0, '-', '-', '-', '-'); continue
            jds = set(round(d[0], 6) for d in dets)
            first = min(d[0] for d in dets)
            lims = [p for p in (a['prv_candidates'] or []) if p['candid'] is None and p['diffmaglim'] is not None and p['jd'] < first]
            last = max(lims, key=lambda p: p['jd']) if lims else None
            print(a['objectId'], c['candid'], len(jds), repr(first), repr(last['jd']) if last else '-', repr(last['diffmaglim']) if last else '-', last['fid'] if last else '-')
)py", {(test::data_dir() / "ztf/kowalski-v3.3-v4.01").string()});
  struct Expected {
    std::string object;
    size_t detections;
    double first_jd, limit_jd, limit;
    int fid;
  };
  std::map<std::string, Expected> expected;  // by candid
  std::istringstream lines(oracle);
  for (std::string object, candid, n, first, ljd, lim, fid; lines >> object >> candid >> n >> first >> ljd >> lim >> fid;)
    expected[candid] = {object, std::stoul(n), first == "-" ? NAN : std::stod(first), ljd == "-" ? NAN : std::stod(ljd),
                        lim == "-" ? NAN : std::stod(lim), fid == "-" ? 0 : std::stoi(fid)};
  REQUIRE(expected.size() == 36);

  TnsPeer peer;
  Sink sink("{url: '" + peer.url("/api/bulk-report") + "', format: tns-report, " + kTnsConfig + "}");
  // Every alert with a positive detection (a negative subtraction is no discovery: a dead letter).
  std::vector<RecordPtr> records, negative;
  for (const auto& a : alerts) (expected.at(a->core().alert_key).detections > 0 ? records : negative).push_back(a);
  REQUIRE(records.size() >= 12);
  records.resize(12);
  test::CollectingEmitter out;
  sink.logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
  for (const Fault& f : out.faults) MESSAGE(f.message());
  CHECK(out.failed_records == 0);
  CHECK(out.delivered_records == 12);
  REQUIRE(peer.reports.size() == 12);
  if (!negative.empty()) {
    test::CollectingEmitter refused;
    sink.logic->on_batch(0, BatchView::make(PortType::alert, {negative[0]}, {}), refused);
    CHECK(refused.failed_records == 1);
    CHECK(refused.faults.at(0).message() == "a TNS report needs a positive detection with a magnitude");
  }
  CHECK(peer.user_agents[0] == R"(tns_marker{"name":"ebs_test_bot","tns_id":"9999","type":"bot"})");
  size_t with_limit = 0;
  for (size_t i = 0; i < 12; ++i) {
    const AlertCore& core = static_cast<const Alert&>(*records[i]).core();
    const Expected& e = expected.at(core.alert_key);
    const json& r = peer.reports[i]["at_report"]["0"];
    CHECK(r["internal_name"] == e.object);
    CHECK(r["reporter"] == "A. Astronomer on behalf of ebs-flow");
    CHECK(r["at_type"] == "1");
    CHECK(std::stod(r["ra"]["value"].get<std::string>()) == doctest::Approx(core.ra).epsilon(1e-9));
    CHECK(r["photometry"]["photometry_group"].size() == e.detections);
    // Discovery: the first detection as "YYYY-MM-DD HH:MM:SS.sss" UTC; the engine's times are the
    // middle of the exposure, the file's jd its start (ZTF exposes 30 s).
    const std::string discovery = r["discovery_datetime"];
    REQUIRE(discovery.size() == 23);
    const double after_start_s =
        (time::iso_utc_to_mjd_tai(discovery) - time::to_mjd_tai(e.first_jd, time::Scale::utc, true)) * 86400;
    CHECK(after_start_s >= 0);
    CHECK(after_start_s <= 15.001);
    for (const auto& [k, p] : r["photometry"]["photometry_group"].items()) {
      CHECK(p["flux_units"] == "1");
      CHECK(p["instrument_value"] == "196");
      CHECK((p["filter_value"] == "110" || p["filter_value"] == "111" || p["filter_value"] == "112"));
    }
    if (std::isnan(e.limit_jd)) {
      CHECK(r["non_detection"]["archiveid"] == "0");
    } else {
      ++with_limit;
      CHECK(std::stod(r["non_detection"]["limiting_flux"].get<std::string>()) == doctest::Approx(e.limit).epsilon(1e-3));
      CHECK(r["non_detection"]["filter_value"] == std::to_string(109 + e.fid));
    }
  }
  CHECK(with_limit > 0);

  // A wrong key: TNS answers 401, not retried: a dead letter naming the URL and the answer.
  Sink wrong("{url: '" + peer.url("/api/bulk-report") + "', format: tns-report, retries: 3, backoff_ms: 1, " +
             std::string(kTnsConfig).replace(std::string(kTnsConfig).find("secret-key"), 10, "wrong") + "}");
  test::CollectingEmitter refused;
  wrong.logic->on_batch(0, BatchView::make(PortType::alert, {records[0]}, {}), refused);
  CHECK(refused.failed_records == 1);
  REQUIRE(refused.faults.size() == 1);
  CHECK(refused.faults[0].message().find("HTTP 401") == 0);
}

TEST_CASE("tns-report needs its TNS identity; a band without a TNS filter is a dead letter") {
  ActorRegistry registry;
  register_webhook_sink(registry);
  const ActorType& type = *registry.find("webhook");
  std::vector<Problem> problems;
  type.check(ebs::test::make_context(type, "{url: 'http://127.0.0.1:1/x', format: tns-report, tns: {api_key: k, typo: 1}}").config,
             problems);
  CHECK(problems.size() == 6);  // bot_id, bot_name, reporting_group_id, discovery_data_source_id, reporter, typo
  auto core = std::make_shared<AlertCore>();
  core->object_id = "X1";
  core->ra = 1;
  core->dec = 2;
  core->mjd_tai = 60000;
  core->mag = 19;
  core->band = "y";
  CHECK_THROWS_WITH_AS(community::tns_at_report(Alert(core), community::ztf_tns_defaults()),
                       doctest::Contains("band 'y' has no TNS filter id"), Fault);
}

TEST_CASE("community events: a GW sky event, a coincidence and an alert in the Astro-COLIBRI-like shape") {
  TnsPeer peer;
  Sink sink("{url: '" + peer.url("/events") + "', format: community-event, discoverer: EBS, "
            "object_url: 'https://example.org/objects/{object_id}', event_url: 'https://gracedb.ligo.org/superevents/{event_id}/'}");
  auto gw = std::make_shared<SkyEvent>();
  gw->event_id = "S230518h";
  gw->source = "LVK";
  gw->kind = SkyEvent::Kind::gravitational_wave;
  gw->mjd_tai = time::iso_utc_to_mjd_tai("2023-05-18T12:59:08.167Z");
  gw->localization.shape = Localization::Shape::skymap;
  gw->localization.skymap_url = "https://gracedb.ligo.org/api/superevents/S230518h/files/bayestar.multiorder.fits";
  gw->far_hz = 3.2e-10;
  auto nu = std::make_shared<SkyEvent>();
  nu->event_id = "IceCube-230518A";
  nu->source = "IceCube";
  nu->kind = SkyEvent::Kind::neutrino;
  nu->mjd_tai = 60082.5;
  nu->localization.shape = Localization::Shape::circle;
  nu->localization.ra = 150.1;
  nu->localization.dec = 2.2;
  nu->localization.radius_deg = 0.75;
  auto co = std::make_shared<Coincidence>();
  co->event_id = "S230518h";
  co->alert_id = 1105522281015015000;
  co->object_id = "ZTF23aaaaaaa";
  co->alert_ra = 12.5;
  co->alert_dec = -30.25;
  co->alert_mag = 19.5;
  co->alert_band = "r";
  co->alert_mjd_tai = gw->mjd_tai + 0.5;
  co->time_difference_s = 43200;
  co->terms = {{"spatial", 0.01, ""}};
  test::CollectingEmitter out;
  sink.logic->on_batch(0, BatchView::make(PortType::any, {gw, nu, co}, {}), out);
  CHECK(out.delivered_records == 3);
  REQUIRE(peer.reports.size() == 3);
  const json& e0 = peer.reports[0];
  CHECK(e0["type"] == "GW");
  CHECK(e0["time"] == "2023-05-18T12:59:08.167Z");
  CHECK(e0["err_kind"] == "skymap");
  CHECK(e0["discoverer"] == "EBS");
  CHECK(e0["links"].size() == 2);
  CHECK(e0["links"][0]["href"] == "https://gracedb.ligo.org/superevents/S230518h/");
  CHECK(peer.reports[1]["type"] == "nu");
  CHECK(peer.reports[1]["err"] == 0.75);
  CHECK(peer.reports[1]["ra"] == 150.1);
  const json& e2 = peer.reports[2];
  CHECK(e2["trigger_id"] == "ZTF23aaaaaaa@S230518h");
  CHECK(e2["ra"] == 12.5);
  CHECK(e2["coincidence"]["alert_id"] == "1105522281015015000");
  CHECK(e2["links"][0]["href"] == "https://example.org/objects/ZTF23aaaaaaa");
  CHECK(e2["time"] == time::mjd_tai_to_iso_utc(gw->mjd_tai + 0.5));
}
