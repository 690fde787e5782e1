#include "actors/sinks/webhook/webhook_sink.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "engine/runtime/actor_logic.h"
#include "test/support/collecting_emitter.h"
#include "test/support/recording_webhook.h"

using namespace ebs;
using ebs::test::CollectingEmitter;
using ebs::test::RecordingWebhook;

namespace {

// A webhook on loopback that answers its first `failures` requests with `status` ("try later"), then 200.
RecordingWebhook::Answers failing_first(size_t failures, int status = 500) {
  return {.first = failures, .first_status = status, .body = "try later", .content_type = "text/plain"};
}

struct Sink {
  ActorRegistry registry;
  ActorContext context;
  std::unique_ptr<ActorLogic> logic;
  Sink(const std::string& yaml) {
    register_webhook_sink(registry);
    const ActorType& type = *registry.find("webhook");
    context = ebs::test::make_context(type, yaml);
    logic = type.create(context);
    logic->open(context);
  }
};

std::vector<RecordPtr> alerts(int n) {
  std::vector<RecordPtr> out;
  for (int i = 1; i <= n; ++i) {
    auto core = std::make_shared<AlertCore>();
    core->alert_id = static_cast<uint64_t>(i);
    core->object_id = "ZTF" + std::to_string(i);
    core->survey = "ztf";
    core->ra = 10;
    core->dec = -5;
    core->mag = 18.25;
    core->band = "g";
    out.push_back(std::make_shared<const Alert>(core));
  }
  return out;
}

}  // namespace

TEST_CASE("a server that fails a few times first: retried with back-off, delivered on 2xx, acknowledged after") {
  RecordingWebhook server(failing_first(3));
  Sink sink("{url: '" + server.url() + "', retries: 5, backoff_ms: 5, headers: {Authorization: Bearer abc}}");
  auto tracker = std::make_shared<AckTracker>();
  CollectingEmitter out;
  auto start = std::chrono::steady_clock::now();
  sink.logic->on_batch(0, BatchView::make(PortType::alert, alerts(4), {std::make_shared<const AckToken>(tracker, 4)}), out);
  double elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  CHECK(out.delivered_records == 4);
  CHECK(out.failed_records == 0);
  CHECK(server.requests() == 7);           // 3 failures, then 4 deliveries
  CHECK(elapsed_ms >= 5 + 10 + 20 - 1);    // the back-off doubled: 5, 10, 20 ms
  CHECK(tracker->acknowledged_through() == 1);
  const std::vector<std::string> delivered = server.delivered();
  REQUIRE(delivered.size() == 4);
  auto first = nlohmann::json::parse(delivered[0]);
  CHECK(first["alert_id"] == "1");
  CHECK(first["object_id"] == "ZTF1");
  CHECK(server.received().back().header("Authorization") == "Bearer abc");
}

TEST_CASE("after the last retry the record is a dead letter") {
  RecordingWebhook server(failing_first(1000, 503));
  Sink sink("{url: '" + server.url() + "', retries: 2, backoff_ms: 1}");
  CollectingEmitter out;
  sink.logic->on_batch(0, BatchView::make(PortType::alert, alerts(2), {}), out);
  CHECK(out.delivered_records == 0);
  CHECK(out.failed_records == 2);
  CHECK(server.requests() == 6);
  REQUIRE(out.faults.size() == 2);
  CHECK(out.faults[0].place() == server.url());
  CHECK(out.faults[0].message() == "HTTP 503: try later (after 3 attempts)");
}

TEST_CASE("a client error is not retried; no server at all is a disconnection") {
  RecordingWebhook server(failing_first(1, 400));
  Sink sink("{url: '" + server.url() + "', retries: 4, backoff_ms: 1}");
  CollectingEmitter out;
  sink.logic->on_batch(0, BatchView::make(PortType::alert, alerts(2), {}), out);
  CHECK(server.requests() == 2);
  CHECK(out.failed_records == 1);
  CHECK(out.delivered_records == 1);

  int closed_port = server.port();
  server.stop();
  Sink nobody("{url: 'http://127.0.0.1:" + std::to_string(closed_port) + "/hook', retries: 1, backoff_ms: 1}");
  CollectingEmitter none;
  nobody.logic->on_batch(0, BatchView::make(PortType::alert, alerts(1), {}), none);
  REQUIRE(none.faults.size() == 1);
  CHECK(none.faults[0].kind() == FaultKind::disconnected);
}

TEST_CASE("Slack-compatible payloads") {
  RecordingWebhook server(failing_first(0));
  Sink sink("{url: '" + server.url() + "', slack: true}");
  CollectingEmitter out;
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.name = "SN";
  a.value = 0.87;
  auto alert = static_cast<const Alert&>(*alerts(1)[0]).annotated(a);
  sink.logic->on_batch(0, BatchView::make(PortType::alert, {alert}, {}), out);
  const std::vector<std::string> delivered = server.delivered();
  REQUIRE(delivered.size() == 1);
  auto body = nlohmann::json::parse(delivered[0]);
  REQUIRE(body.size() == 1);
  CHECK(body["text"] == "ztf ZTF1 alert 1 at RA 10.00000 Dec -5.00000, mag 18.25 (g); classification SN 0.87");
}

TEST_CASE("validate checks the URL scheme and the numbers") {
  ActorRegistry registry;
  register_webhook_sink(registry);
  const ActorType& type = *registry.find("webhook");
  std::vector<Problem> problems;
  type.check(ebs::test::make_context(type, "{url: 'ftp://x', retries: -1}").config, problems);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].message.find("http://") != std::string::npos);
}
