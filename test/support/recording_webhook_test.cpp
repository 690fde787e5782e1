#include "test/support/recording_webhook.h"

#include <doctest/doctest.h>

#include <future>

using ebs::test::RecordingWebhook;

namespace {

// POSTs `body` to `url` (with an X-Test header) and answers the status, or -1 when no answer came.
int post(const RecordingWebhook& hook, const std::string& body, const std::string& path = "/hook") {
  httplib::Client client("127.0.0.1", hook.port());
  client.set_read_timeout(30, 0);
  auto res = client.Post(path, {{"X-Test", "yes " + body}}, body, "application/json");
  return res ? res->status : -1;
}

}  // namespace

TEST_CASE("the recording webhook answers as configured and records bodies, headers and statuses") {
  RecordingWebhook hook({.status = 503, .first = 2, .first_status = 200, .body = "busy", .content_type = "text/plain"});
  CHECK(hook.url() == "http://127.0.0.1:" + std::to_string(hook.port()) + "/hook");
  CHECK(post(hook, "a") == 200);
  CHECK(post(hook, "b") == 200);
  CHECK(post(hook, "c") == 503);
  CHECK(post(hook, "d", "/elsewhere") == 404);  // another path: not recorded
  CHECK(hook.requests() == 3);
  CHECK(hook.bodies() == std::vector<std::string>{"a", "b", "c"});
  CHECK(hook.delivered() == std::vector<std::string>{"a", "b"});
  const auto received = hook.received();
  REQUIRE(received.size() == 3);
  CHECK(received[2].status == 503);
  CHECK(received[2].header("x-test") == "yes c");  // header names case-insensitive
  CHECK(received[2].header("X-Missing").empty());
  httplib::Client client("127.0.0.1", hook.port());
  auto res = client.Post("/hook", "e", "application/json");
  REQUIRE(res);
  CHECK(res->body == "busy");
  CHECK(res->get_header_value("Content-Type") == "text/plain");
}

TEST_CASE("the recording webhook's delay: no answer before it") {
  RecordingWebhook hook({.delay = std::chrono::milliseconds(200)});
  const auto started = std::chrono::steady_clock::now();
  CHECK(post(hook, "x") == 200);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(200));
  CHECK(hook.bodies() == std::vector<std::string>{"x"});
}

TEST_CASE("the recording webhook's gate holds answers until released; stopping releases the rest") {
  RecordingWebhook hook({.gated = true});
  auto first = std::async(std::launch::async, [&] { return post(hook, "1"); });
  REQUIRE(hook.wait_for_requests(1));
  // Held: come, not answered, however long one waits.
  CHECK(first.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  CHECK(hook.requests() == 1);
  CHECK(hook.received().empty());
  hook.release(1);
  CHECK(first.get() == 200);
  CHECK(hook.bodies() == std::vector<std::string>{"1"});
  // Released ahead: the next answer goes at once; the one after is held again.
  hook.release(1);
  CHECK(post(hook, "2") == 200);
  auto third = std::async(std::launch::async, [&] { return post(hook, "3"); });
  REQUIRE(hook.wait_for_requests(3));
  CHECK(hook.received().size() == 2);
  CHECK_FALSE(hook.wait_for_requests(4, std::chrono::milliseconds(50)));
  hook.stop();  // does not wait for a release: the held answer goes, the server stops
  CHECK(third.get() == 200);
  CHECK(post(hook, "4") == -1);  // stopped: the port is closed
  hook.stop();                   // twice: nothing more
}
