#include "actors/sinks/repository/http_api.h"

#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "actors/common/repository/writer.h"
#include "actors/common/skymap/credible_moc.h"
#include "test/support/repository_test_support.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

using namespace ebs;
using namespace ebs::repository;
using namespace ebs::repository::testing;

namespace {

// A real server on a free loopback port, serving from its own thread.
struct RunningServer {
  ApiServer server;
  int port;
  std::thread thread;
  RunningServer(const std::string& db, const std::string& token = "") : RunningServer(ApiOptions{db, token}) {}
  explicit RunningServer(const ApiOptions& options)
      : server(options), port(server.bind("127.0.0.1", 0)), thread([this] { server.run(); }) {
    for (int i = 0; i < 200 && !server.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~RunningServer() {
    server.stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(5));
    return c;
  }
};

std::string make_repository(const TempDir& dir) {
  const std::string path = dir.file("api.db");
  Writer writer(path);
  writer.begin();
  auto a1 = make_alert(11, "ZTF21abc", 150.0, 2.0, 60010.0, {detection(60000, "g", 19.5)});
  auto a2 = make_alert(12, "ZTF21abc", 150.0001, 2.0001, 60011.0);
  Annotation score;
  score.kind = Annotation::Kind::score;
  score.name = "kn";
  score.value = 0.9;
  writer.add(*a1->annotated(classification("SN", 0.8)));
  writer.add(*a2->annotated(score));
  auto co = std::make_shared<Coincidence>();
  co->event_id = "S230518h";
  co->alert_id = 12;
  co->object_id = "ZTF21abc";
  writer.add(*co);
  writer.commit(3, 2);
  return path;
}

nlohmann::json body(const httplib::Result& r) {
  REQUIRE(r);
  return nlohmann::json::parse(r->body);
}

}  // namespace

TEST_CASE("the HTTP API answers cone, light-curve, class, score, event and metrics requests") {
  TempDir dir("repo-api");
  RunningServer s(make_repository(dir));
  auto c = s.client();

  auto cone = c.Get("/api/cone?ra=150&dec=2&radius_arcsec=2");
  REQUIRE(cone);
  CHECK(cone->status == 200);
  CHECK(cone->get_header_value("Content-Type") == "application/json");
  auto hits = body(cone);
  REQUIRE(hits.size() == 2);
  CHECK(hits[0]["alert_id"] == "11");
  CHECK(body(c.Get("/api/cone?ra=150&dec=2&radius_arcsec=0.1")).size() == 1);

  auto lc = body(c.Get("/api/objects/ZTF21abc/lightcurve"));
  CHECK(lc["nalerts"] == 2);
  CHECK(lc["lightcurve"].size() == 3);
  CHECK(c.Get("/api/objects/nobody/lightcurve")->status == 404);

  CHECK(body(c.Get("/api/alerts?class=SN&limit=5")).size() == 1);
  CHECK(body(c.Get("/api/alerts?class=AGN")).empty());
  CHECK(body(c.Get("/api/alerts?score=kn&min=0.8"))[0]["alert_id"] == "12");
  CHECK(body(c.Get("/api/alerts?score=kn&min=0.95")).empty());

  auto event = body(c.Get("/api/events/S230518h/coincidences"));
  CHECK(event["coincidences"][0]["alert_id"] == "12");
  CHECK(c.Get("/api/events/S404/coincidences")->status == 404);

  auto metrics = c.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find("ebs_repository_rows{table=\"alerts\"} 2\n") != std::string::npos);
  CHECK(metrics->body.find("ebs_repository_sink_records_total{actor=\"repository\"} 3\n") != std::string::npos);
  CHECK(metrics->body.find("# TYPE ebs_repository_sink_records_per_second gauge") != std::string::npos);
}

TEST_CASE("bad parameters get 400 with a JSON message") {
  TempDir dir("repo-api-400");
  RunningServer s(make_repository(dir));
  auto c = s.client();
  for (const char* path : {"/api/cone?ra=150&dec=2", "/api/cone?ra=abc&dec=2&radius_arcsec=1",
                           "/api/cone?ra=150&dec=95&radius_arcsec=1", "/api/cone?ra=150&dec=2&radius_arcsec=-1",
                           "/api/cone?ra=150&dec=2&radius_arcsec=1e9", "/api/cone?ra=nan&dec=2&radius_arcsec=1",
                           "/api/cone?ra=150&dec=2&radius_arcsec=1&limit=0", "/api/alerts",
                           "/api/alerts?class=SN&score=kn", "/api/alerts?score=kn",
                           "/api/alerts?class=SN&limit=1000000", "/api/alerts?class=",
                           "/cutout/99999999999999999999/science.png", "/cutout/-99999999999999999999/science.png"}) {
    INFO(path);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->status == 400);
    auto j = nlohmann::json::parse(r->body);
    CHECK(j["error"].is_string());
  }
  // SQL in a parameter is only ever a value.
  auto r = c.Get("/api/alerts?class=SN%27%20OR%20%271%27%3D%271");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(nlohmann::json::parse(r->body).empty());
  auto unknown = c.Get("/api/nothing");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(nlohmann::json::parse(unknown->body)["error"] == "no such resource: /api/nothing");
}

TEST_CASE("with a token every request needs it") {
  TempDir dir("repo-api-token");
  RunningServer s(make_repository(dir), "s3cret");
  auto c = s.client();
  auto denied = c.Get("/api/cone?ra=150&dec=2&radius_arcsec=2");
  REQUIRE(denied);
  CHECK(denied->status == 401);
  CHECK(c.Get("/metrics")->status == 401);
  CHECK(c.Get("/api/cone?ra=150&dec=2&radius_arcsec=2", {{"Authorization", "Bearer wrong"}})->status == 401);
  auto allowed = c.Get("/api/cone?ra=150&dec=2&radius_arcsec=2", {{"Authorization", "Bearer s3cret"}});
  REQUIRE(allowed);
  CHECK(allowed->status == 200);
}

TEST_CASE("100 slow clients trickling headers do not lock out an authorised request, and are cut off at the deadline") {
  TempDir dir("repo-api-slowloris");
  ApiOptions options{make_repository(dir), "s3cret"};
  options.http_limits.header_deadline = std::chrono::seconds(4);
  RunningServer s(options);
  // Each slow client sends a request line, then one header line every half second, never the blank line.
  std::vector<int> slow;
  for (int i = 0; i < 100; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(s.port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    timeval limit{20, 0};  // a broken server fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    const std::string start = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(::send(fd, start.data(), start.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(start.size()));
    slow.push_back(fd);
  }
  auto c = s.client();
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (int fd : slow) ::send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
    auto answer = c.Get("/metrics", {{"Authorization", "Bearer s3cret"}});
    REQUIRE(answer);
    CHECK(answer->status == 200);
  }
  // The answers did not wait for the slow clients to be cut off: each still holds its connection,
  // unanswered, and the server serves all of them at once.
  CHECK(s.server.open_connections() >= 100);
  int unanswered = 0;
  for (int fd : slow) {
    pollfd p{fd, POLLIN, 0};
    unanswered += ::poll(&p, 1, 0) == 0;
  }
  CHECK(unanswered == 100);
  // Then each is cut off at the deadline for its headers, before any authorisation.
  int timed_out = 0;
  for (int fd : slow) {
    char answer[64] = {};
    ssize_t n = ::recv(fd, answer, sizeof answer - 1, 0);
    timed_out += n > 0 && std::string(answer).rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0;
    ::close(fd);
  }
  CHECK(timed_out == 100);
}

TEST_CASE("the API takes the query forms: sexagesimal cones, and tables in CSV or VOTable") {
  TempDir dir("repo-api-forms");
  RunningServer s(make_repository(dir));
  auto c = s.client();
  // 150 deg = 10h00m00s; 2 deg = +02:00:00 (':' written as %3A, '+' as %2B).
  auto hits = body(c.Get("/api/cone?ra=10%3A00%3A00&dec=%2B02%3A00%3A00&radius_arcsec=2"));
  REQUIRE(hits.size() == 2);
  CHECK(hits[0]["alert_id"] == "11");  // ids are JSON strings (issue 12)
  auto bad = c.Get("/api/cone?ra=25%3A00%3A00&dec=2&radius_arcsec=2");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(nlohmann::json::parse(bad->body)["error"].get<std::string>().find("parameter 'ra': '25:00:00' is outside") == 0);

  auto csv = c.Get("/api/cone?ra=150&dec=2&radius_arcsec=2&format=csv");
  REQUIRE(csv);
  CHECK(csv->status == 200);
  CHECK(csv->get_header_value("Content-Type") == "text/csv; charset=utf-8");
  CHECK(csv->body.find("alert_id,alert_key,object_id,survey,ra,dec,sep_arcsec,mjd_tai,iso_utc,jd_utc,") == 0);
  auto votable = c.Get("/api/objects/ZTF21abc/lightcurve?format=votable");
  REQUIRE(votable);
  CHECK(votable->get_header_value("Content-Type") == "application/x-votable+xml");
  CHECK(votable->body.find("<FIELD name=\"mjd_tai\" datatype=\"double\"") != std::string::npos);
  CHECK(c.Get("/api/objects/nobody/lightcurve?format=csv")->status == 404);
  auto event = c.Get("/api/events/S230518h/coincidences?format=jsonl");
  REQUIRE(event);
  CHECK(event->body.find("{\"event_id\":\"S230518h\"") == 0);
  CHECK(c.Get("/api/cone?ra=150&dec=2&radius_arcsec=2&format=fits")->status == 400);
  // A printed URL ending in '/' with a path appended: "http://host:port/" + "/api/..." still answers.
  auto doubled = c.Get("//api/objects/ZTF21abc/lightcurve");
  REQUIRE(doubled);
  CHECK(doubled->status == 200);
}

TEST_CASE("a sky event's 50 % and 90 % MOCs are stored with it and served as MOC 2.0 JSON") {
  TempDir dir("repo-api-moc");
  const std::string path = dir.file("moc.db");
  const std::string fits =
      ebs::test::read_file((ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string());
  {
    Writer writer(path);
    writer.begin();
    auto event = std::make_shared<SkyEvent>();
    event->event_id = "MS220722v";
    event->sequence = 1;
    event->kind = SkyEvent::Kind::gravitational_wave;
    event->mjd_tai = 59782.5;
    event->localization.shape = Localization::Shape::skymap;
    event->localization.skymap_fits = fits;
    writer.add(*event);
    writer.commit(1, 0);
  }
  const skymap::Skymap map = skymap::Skymap::from_bytes(std::string_view(fits), "map");
  RunningServer s(path);
  auto c = s.client();
  auto page = body(c.Get("/api/events/MS220722v"));
  REQUIRE(page["mocs"].size() == 2);
  for (const double level : {0.5, 0.9}) {
    INFO(level);
    auto r = c.Get("/api/events/MS220722v/moc?level=" + std::to_string(level));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "application/json");
    const skymap::Moc moc = skymap::credible_region_moc(map, level);
    CHECK(nlohmann::ordered_json::parse(r->body) == skymap::moc_to_json(moc));
    const auto& row = page["mocs"][level < 0.7 ? 0 : 1];
    CHECK(row["level"] == level);
    CHECK(row["cells"] == moc.uniq.size());
    CHECK(row["area_deg2"].get<double>() == doctest::Approx(moc.area_deg2()).epsilon(1e-12));
  }
  CHECK(c.Get("/api/events/MS220722v/moc")->body == c.Get("/api/events/MS220722v/moc?level=0.9")->body);  // the default
  CHECK(c.Get("/api/events/MS220722v/moc?level=0.8")->status == 404);
  CHECK(c.Get("/api/events/S404/moc")->status == 404);
  CHECK(c.Get("/api/events/MS220722v/moc?level=2")->status == 400);
}
