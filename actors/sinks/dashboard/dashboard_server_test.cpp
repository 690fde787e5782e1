#include "actors/sinks/dashboard/dashboard_server.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "test/support/ztf_alerts.h"

namespace ebs::dashboard {

namespace {

LiveActor live(const std::string& id, const std::string& type, std::vector<LiveActor::Wire> inputs,
               std::shared_ptr<ActorStats> stats) {
  LiveActor a;
  a.id = id;
  a.type = type;
  a.source = inputs.empty();
  a.inputs = std::move(inputs);
  a.output_ports = a.source ? std::vector<std::string>{"alerts"} : std::vector<std::string>{};
  a.instances.push_back(std::move(stats));
  return a;
}

}  // namespace

TEST_CASE("the server shows the graph, per-actor rates, the page, cutouts, and refuses bad requests") {
  DashboardFeed feed;
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 2);
  for (const auto& a : alerts) feed.add(a);
  DashboardServer server(feed);
  int port = server.listen({"127.0.0.1", 0}, "");
  REQUIRE(port > 0);

  auto src = std::make_shared<ActorStats>(1), sink = std::make_shared<ActorStats>(0);
  Workflow workflow;
  workflow.name = "unit";
  server.on_start(workflow, {live("src", "avro-files", {}, src), live("show", "dashboard", {{"src", "alerts", "in"}}, sink)});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ActorStats::add(src->in, 1000);
  ActorStats::add(src->forwarded, 1000);
  ActorStats::add(sink->in, 900);
  ActorStats::add(sink->forwarded, 900);
  ActorStats::add(sink->queued_batches, 3);
  ActorStats::add(sink->dead_letters, 2);
  sink->measures_latency = true;  // the engine marks sinks
  sink->latency.add(std::chrono::milliseconds(4), 890);
  sink->latency.add(std::chrono::milliseconds(120), 10);
  server.sample();

  httplib::Client client("127.0.0.1", port);
  auto graph = client.Get("/api/graph");
  REQUIRE(graph);
  CHECK(graph->status == 200);
  auto g = nlohmann::json::parse(graph->body);
  CHECK(g["workflow"] == "unit");
  REQUIRE(g["actors"].size() == 2);
  CHECK(g["actors"][1]["inputs"][0]["from"] == "src");

  auto stats = nlohmann::json::parse(client.Get("/api/stats")->body);
  CHECK(stats["state"] == "running");
  const auto& show = stats["actors"][1];
  CHECK(show["in"] == 900);
  CHECK(show["queued_batches"] == 3);
  CHECK(show["dead_letters"] == 2);
  // 900 records since on_start, at least 200 ms ago: under 4500/s, well above zero.
  CHECK(show["rate_in"].get<double>() > 100);
  CHECK(show["rate_in"].get<double>() < 4500);
  CHECK(show["latency_ms"]["records"] == 900);
  CHECK(show["latency_ms"]["p50"].get<double>() == doctest::Approx(4).epsilon(0.07));
  CHECK(show["latency_ms"]["p99"].get<double>() == doctest::Approx(120).epsilon(0.07));
  CHECK(show["latency_ms"]["max"].get<double>() == 120);
  CHECK(stats["actors"][0]["latency_ms"].is_null());  // the source is not a sink

  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find("ebs_actor_records_total{actor=\"show\",counter=\"in\"} 900\n") != std::string::npos);
  CHECK(metrics->body.find("ebs_sink_latency_seconds{actor=\"show\",quantile=\"1\"} 0.12\n") != std::string::npos);
  CHECK(metrics->body.find("ebs_sink_latency_seconds_count{actor=\"show\"} 900\n") != std::string::npos);
  CHECK(metrics->body.find("ebs_sink_latency_seconds{actor=\"src\"") == std::string::npos);

  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type").find("text/html") == 0);
  CHECK(page->body.find("dashboard.js") != std::string::npos);
  CHECK(client.Get("/dashboard.js")->status == 200);
  CHECK(client.Get("/dashboard.css")->status == 200);

  std::string id = std::to_string(alerts[1]->core().alert_id);
  auto png = client.Get("/cutout/" + id + "/difference.png");
  REQUIRE(png);
  CHECK(png->status == 200);
  CHECK(png->get_header_value("Content-Type") == "image/png");
  CHECK(png->body.substr(1, 3) == "PNG");
  CHECK(client.Get("/cutout/" + id + "/bogus.png")->status == 400);
  CHECK(client.Get("/cutout/12x/science.png")->status == 400);
  CHECK(client.Get("/cutout/123/science.png")->status == 404);
  auto lc = client.Get("/api/alerts/" + id + "/lightcurve");
  CHECK(lc->status == 200);
  CHECK(nlohmann::json::parse(lc->body)["points"].size() > 1);
  CHECK(client.Get("/skymap/nothing.png")->status == 404);
  CHECK(client.Get("/api/nothing")->status == 404);

  RunResult result;
  result.accounting_ok = true;
  result.elapsed_s = 1.5;
  server.on_end(result);
  stats = nlohmann::json::parse(client.Get("/api/stats")->body);
  CHECK(stats["state"] == "ended");
  CHECK(stats["elapsed_s"] == 1.5);
  server.stop();
}

TEST_CASE("with a token: 401 without it, the header or the cookie from /?token= let the page in") {
  DashboardFeed feed;
  DashboardServer server(feed);
  int port = server.listen({"127.0.0.1", 0}, "s3cret");
  httplib::Client client("127.0.0.1", port);
  CHECK(client.Get("/api/stats")->status == 401);
  CHECK(client.Get("/")->status == 401);
  CHECK(client.Get("/?token=wrong")->status == 401);
  CHECK(client.Get("/api/stats", {{"Authorization", "Bearer s3cret"}})->status == 200);
  auto page = client.Get("/?token=s3cret");
  CHECK(page->status == 200);
  std::string cookie = page->get_header_value("Set-Cookie");
  CHECK(cookie.find("ebs_token=s3cret") == 0);
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(client.Get("/api/stats", {{"Cookie", "other=1; ebs_token=s3cret"}})->status == 200);
  CHECK(client.Get("/api/stats", {{"Cookie", "ebs_token=nope"}})->status == 401);
}

TEST_CASE("the dashboard applies the HTTP limits: a slow client's headers get 408, a greedy address 503") {
  DashboardFeed feed;
  http_limits::Settings limits;
  limits.header_deadline = std::chrono::milliseconds(300);
  limits.max_connections_per_address = 1;
  limits.limit_loopback = true;
  DashboardServer server(feed, limits);
  int port = server.listen({"127.0.0.1", 0}, "");
  REQUIRE(port > 0);
  auto connect = [&] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    timeval limit{20, 0};  // a broken server fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    return fd;
  };
  auto status_line = [](int fd) {
    char answer[128] = {};
    ssize_t n = ::recv(fd, answer, sizeof answer - 1, 0);
    std::string text(answer, n > 0 ? static_cast<size_t>(n) : 0);
    return text.substr(0, text.find("\r\n"));
  };
  int slow = connect();
  const std::string start = "GET /api/graph HTTP/1.1\r\nHost: x\r\n";
  REQUIRE(::send(slow, start.data(), start.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(start.size()));
  for (int i = 0; i < 2000 && server.open_connections() != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(server.open_connections() == 1);
  int second = connect();  // the address already holds its one connection
  const std::string request = "GET /api/graph HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(second, request.data(), request.size(), MSG_NOSIGNAL);
  CHECK(status_line(second) == "HTTP/1.1 503 Service Unavailable");
  CHECK(status_line(slow) == "HTTP/1.1 408 Request Timeout");
  ::close(second);
  ::close(slow);
  server.stop();
}

}  // namespace ebs::dashboard
