#include "actors/common/filter_registry/filter_outputs.h"

#include <doctest/doctest.h>

#include <thread>

#include "actors/common/kafka/replay.h"
#include "test/support/child_process.h"
#include "test/support/kafka_test_support.h"
#include "test/support/recording_webhook.h"

using namespace ebs::filter_registry;

TEST_CASE("an output's alerts/s limit raised: the time before counts at the old limit, not the new one") {
  // Silent (0 alerts/s) for half a second, then 10 alerts/s: the half second earned nothing, so
  // offers made at once are all dropped (at the new limit, half a second would have earned 5).
  // Nothing is delivered (the webhook is closed), and none of the offers reaches it.
  OutputSettings settings;
  settings.max_per_second = 0;
  OutputQueue queue({Output::Kind::webhook, "http://127.0.0.1:1/hook"}, settings);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  queue.set_max_per_second(10);
  for (int i = 0; i < 10; ++i) queue.offer("{}", "", "");
  // A token takes 100 ms at the new limit: the offers, made at once, earn none.
  CHECK(queue.rate_limited() == 10);
}

namespace {

using ebs::AckRef;
using ebs::AckToken;
using ebs::AckTracker;
using ebs::test::RecordingWebhook;

// The output of a filter posting to `hook`.
Output webhook_output(const RecordingWebhook& hook) { return {Output::Kind::webhook, hook.url()}; }

// The tokens of one batch of `records` records from `tracker`, as the `filters` actor hands them on.
HeldAcks batch_tokens(const std::shared_ptr<AckTracker>& tracker, uint64_t records) {
  return std::make_shared<const std::vector<AckRef>>(std::vector<AckRef>{std::make_shared<AckToken>(tracker, records)});
}

OutputSettings unlimited() {
  OutputSettings settings;
  settings.max_per_second = 1e6;
  return settings;
}

}  // namespace

TEST_CASE("a message holds its batch's acknowledgement until its webhook answered") {
  RecordingWebhook hook({.gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  settings.side_work = std::make_shared<std::atomic<uint64_t>>(0);
  OutputQueue queue(webhook_output(hook), settings);
  // Batch 1 gives two messages, batch 2 one; the caller lets go of its own references at once.
  {
    HeldAcks first = batch_tokens(tracker, 2), second = batch_tokens(tracker, 1);
    CHECK(queue.offer("{\"a\":1}", "", "k", first) == OutputQueue::Offer::queued);
    CHECK(queue.offer("{\"a\":2}", "", "k", first) == OutputQueue::Offer::queued);
    CHECK(queue.offer("{\"a\":3}", "", "k", second) == OutputQueue::Offer::queued);
  }
  REQUIRE(hook.wait_for_requests(1));
  CHECK(tracker->acknowledged_through() == 0);  // nothing answered yet: both batches held
  hook.release(1);  // the first of batch 1's two messages: batch 1 is still held by the second
  REQUIRE(hook.wait_for_requests(2));
  CHECK(queue.delivered() == 1);
  CHECK(tracker->acknowledged_through() == 0);
  hook.release(1);
  REQUIRE(ebs::test::wait_until([&] { return tracker->acknowledged_through() == 1; }, std::chrono::seconds(20)));
  CHECK(tracker->records_acknowledged() == 2);
  hook.release(1);
  REQUIRE(ebs::test::wait_until([&] { return tracker->acknowledged_through() == 2; }, std::chrono::seconds(20)));
  CHECK(queue.delivered() == 3);
  CHECK(*settings.side_work == 3);  // each delivery is the actor's progress, for the run's drain clock
  CHECK(queue.undelivered() == 0);
  CHECK(queue.abandoned() == 0);
  CHECK(tracker->records_abandoned() == 0);
}

TEST_CASE("a failed output lets its messages go, counted, and their batches are acknowledged") {
  RecordingWebhook hook({.status = 500, .gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputQueue queue(webhook_output(hook), unlimited());
  // All three are queued before the webhook answers (the first is in flight, held): none refused.
  for (int i = 0; i < 3; ++i) CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  hook.release(100);
  REQUIRE(ebs::test::wait_until([&] { return queue.failure().has_value(); }, std::chrono::seconds(20)));
  CHECK(queue.failure()->find("HTTP 500") != std::string::npos);
  // The failed delivery and what was queued behind it.
  REQUIRE(ebs::test::wait_until([&] { return queue.undelivered() + queue.delivered() == 3; }, std::chrono::seconds(20)));
  CHECK(queue.delivered() == 0);
  REQUIRE(ebs::test::wait_until([&] { return tracker->acknowledged_through() == 3; }, std::chrono::seconds(20)));
  CHECK(tracker->records_abandoned() == 0);
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::refused);
}

TEST_CASE("a full queue fails its output: the queued messages' batches are acknowledged, the one in flight when answered") {
  RecordingWebhook hook({.gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  settings.queue_capacity = 2;
  settings.timeout = std::chrono::milliseconds(30000);
  OutputQueue queue(webhook_output(hook), settings);
  queue.offer("{}", "", "k", batch_tokens(tracker, 1));
  REQUIRE(hook.wait_for_requests(1));  // batch 1's message in flight
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::refused);  // batch 4: never queued
  REQUIRE(queue.failure().has_value());
  CHECK(queue.failure()->find("does not keep up") != std::string::npos);
  CHECK(queue.undelivered() == 2);
  CHECK(tracker->records_acknowledged() == 3);  // batches 2-4 let go
  CHECK(tracker->acknowledged_through() == 0);  // batch 1 still held by its delivery
  hook.release(1);
  REQUIRE(ebs::test::wait_until([&] { return tracker->acknowledged_through() == 4; }, std::chrono::seconds(20)));
  CHECK(queue.delivered() == 1);
  CHECK(tracker->records_abandoned() == 0);
}

TEST_CASE("messages still queued when the output stops without failing are abandoned: never acknowledged") {
  RecordingWebhook hook({.gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputQueue queue(webhook_output(hook), unlimited());
  queue.offer("{}", "", "k", batch_tokens(tracker, 1));
  REQUIRE(hook.wait_for_requests(1));
  queue.offer("{}", "", "k", batch_tokens(tracker, 2));
  // A drain that sees no delivery for its quiet time gives up (the webhook does not answer).
  CHECK(!queue.drain(std::chrono::milliseconds(50)));
  CHECK(queue.abandon_queued() == 1);  // batch 2's message; the destructor does the same
  CHECK(queue.abandoned() == 1);
  hook.release(1);  // the delivery in progress completes
  REQUIRE(ebs::test::wait_until([&] { return tracker->acknowledged_through() == 1; }, std::chrono::seconds(20)));
  CHECK(queue.delivered() == 1);
  CHECK(tracker->first_abandoned() == 2);
  CHECK(tracker->records_abandoned() == 2);
  CHECK(!queue.failure());
}

TEST_CASE("a drain waits for a slow output that still delivers") {
  RecordingWebhook hook({.gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputQueue queue(webhook_output(hook), unlimited());
  for (int i = 0; i < 5; ++i) queue.offer("{}", "", "k", batch_tokens(tracker, 1));
  // One answer every 500 ms (2.5 s in all) against a quiet time of 2 s: the drain waits for them all.
  std::thread answers([&] {
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      hook.release(1);
    }
  });
  CHECK(queue.drain(std::chrono::milliseconds(2000)));
  answers.join();
  CHECK(queue.delivered() == 5);
  CHECK(tracker->acknowledged_through() == 5);
}

TEST_CASE("a teardown ends a drain and cuts the request in progress: what is left is abandoned, the output not failed") {
  RecordingWebhook hook({.gated = true});  // never answers
  auto scope = std::make_shared<ebs::AckScope>();
  auto tracker = std::make_shared<AckTracker>(AckTracker::Listener{}, scope);
  OutputSettings settings = unlimited();
  settings.scope = scope;
  settings.timeout = std::chrono::milliseconds(60000);
  OutputQueue queue(webhook_output(hook), settings);
  queue.offer("{}", "", "k", batch_tokens(tracker, 1));
  queue.offer("{}", "", "k", batch_tokens(tracker, 2));
  std::thread fault([&] {
    hook.wait_for_requests(1);  // checked below: no doctest assertion on this thread
    scope->tear_down();  // as the engine does after a fault, or a drain past drain_timeout_s
  });
  // Without the teardown this drain would wait a minute (the request's time-out).
  const auto started = std::chrono::steady_clock::now();
  CHECK(!queue.drain(std::chrono::milliseconds(60000)));
  fault.join();
  CHECK(hook.wait_for_requests(1));  // the teardown came during the first request
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  // libcurl's progress callback cuts the request (about once a second).
  REQUIRE(ebs::test::wait_until([&] { return queue.abandoned() == 2; }, std::chrono::seconds(20)));
  CHECK(!queue.failure());  // its filter is not paused for the run's teardown
  CHECK(queue.undelivered() == 0);
  REQUIRE(ebs::test::wait_until([&] { return tracker->records_abandoned() == 3; }, std::chrono::seconds(20)));
  CHECK(tracker->acknowledged_through() == 0);
  // Refused as torn down, not as failed: its filter is not paused.
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 4)) == OutputQueue::Offer::torn_down);
}

TEST_CASE("a message that waited longer than max_hold fails its output: counted, its batch's acknowledgement released") {
  RecordingWebhook hook({.gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  settings.max_hold = std::chrono::milliseconds(1000);
  settings.timeout = std::chrono::milliseconds(60000);
  OutputQueue queue(webhook_output(hook), settings);
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  REQUIRE(hook.wait_for_requests(1));  // batch 1's message in flight, unanswered
  const auto second_queued = std::chrono::steady_clock::now();
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  // The slow request outlasts the second message's max_hold (the answer is what is waited for).
  REQUIRE(ebs::test::wait_until([&] { return std::chrono::steady_clock::now() - second_queued > std::chrono::milliseconds(1200); },
                                std::chrono::seconds(20)));
  CHECK(!queue.failure());  // a slow output that has not yet come to a message too old has not failed
  hook.release(1);
  REQUIRE(ebs::test::wait_until([&] { return queue.failure().has_value(); }, std::chrono::seconds(20)));
  CHECK(queue.failure()->find("is too slow: a message waited") != std::string::npos);
  INFO(*queue.failure());
  CHECK(queue.failure()->find("output_max_hold_s = 1 ") != std::string::npos);
  CHECK(queue.delivered() == 1);
  REQUIRE(ebs::test::wait_until([&] { return queue.undelivered() == 1; }, std::chrono::seconds(20)));
  REQUIRE(ebs::test::wait_until([&] { return tracker->acknowledged_through() == 2; }, std::chrono::seconds(20)));
  CHECK(tracker->records_abandoned() == 0);
  CHECK(hook.wait_for_requests(1));
  CHECK(hook.requests() == 1);  // the second message was never sent
}

TEST_CASE("what a failed output gives up on becomes dead letters with the messages' bytes; their batches wait for them") {
  RecordingWebhook hook({.status = 500, .gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  settings.dead_letters = std::make_shared<UndeliveredLetters>(1 << 20);
  OutputQueue queue(webhook_output(hook), settings);
  const std::vector<std::string> bodies = {"{\"a\":1}", "{\"b\":\"\\u00e9\"}", "{\"c\":[1.5,2]}"};
  for (size_t i = 0; i < bodies.size(); ++i)
    CHECK(queue.offer(bodies[i], "", "k", batch_tokens(tracker, 1), "alert " + std::to_string(i)) ==
          OutputQueue::Offer::queued);
  hook.release(100);
  REQUIRE(ebs::test::wait_until([&] { return queue.dead_lettered() == 3; }, std::chrono::seconds(20)));
  // Refused once failed: given up on at once, its letter too.
  CHECK(queue.offer("{\"d\":4}", "", "k", batch_tokens(tracker, 1), "alert 3") == OutputQueue::Offer::refused);
  CHECK(queue.refused() == 1);
  CHECK(queue.dead_lettered() == 4);
  CHECK(queue.dead_letters_dropped() == 0);
  std::vector<UndeliveredLetters::Letter> letters = settings.dead_letters->take();
  REQUIRE(letters.size() == 4);
  for (size_t i = 0; i < letters.size(); ++i) {
    const ebs::DeadLetter& d = *letters[i].record;
    CHECK(d.original == (i < 3 ? bodies[i] : std::string("{\"d\":4}")));
    CHECK(d.original_format == "bytes");
    CHECK(d.kind == "undelivered");
    CHECK(d.place == queue.describe() + ": alert " + std::to_string(i));
    CHECK(d.reason.find("HTTP 500") != std::string::npos);
    CHECK(d.reason.starts_with("refused: the output had failed: ") == (i == 3));
  }
  CHECK(settings.dead_letters->bytes() > 0);
  // The batches are acknowledged only once the letters are let go (the dead-letter sink wrote them).
  CHECK(tracker->acknowledged_through() == 0);
  letters.clear();
  CHECK(tracker->acknowledged_through() == 4);
  CHECK(tracker->records_abandoned() == 0);
  CHECK(settings.dead_letters->bytes() == 0);  // their bytes given back with their records
}

TEST_CASE("a Kafka output with one partition unreachable: exactly the messages not delivered become letters") {
  // Two brokers; partition 0 led by broker 1, partition 1 by broker 2, which is down: the messages
  // keyed to partition 1 time out, those of partition 0 are delivered, their reports interleaved
  // out of publish order. The letters must be exactly the messages the topic lacks.
  ebs::kafka::EmbeddedBroker broker(2);
  broker.create_topic("split", 2);
  REQUIRE(rd_kafka_mock_partition_set_leader(broker.mock_cluster(), "split", 0, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_mock_partition_set_leader(broker.mock_cluster(), "split", 1, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_mock_broker_set_down(broker.mock_cluster(), 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  settings.timeout = std::chrono::seconds(30);
  settings.kafka_properties = {{"bootstrap.servers", broker.bootstrap_servers()}, {"message.timeout.ms", "5000"}};
  settings.dead_letters = std::make_shared<UndeliveredLetters>(1 << 20);
  OutputQueue queue({Output::Kind::kafka, "split"}, settings);
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i)
    CHECK(queue.offer("{\"n\":" + std::to_string(i) + "}", "", "object-" + std::to_string(i), batch_tokens(tracker, 1)) ==
          OutputQueue::Offer::queued);
  REQUIRE(ebs::test::wait_until([&] { return queue.failure().has_value(); }, std::chrono::seconds(40)));
  REQUIRE(ebs::test::wait_until([&] { return queue.delivered() + queue.dead_lettered() == kMessages; },
                                std::chrono::seconds(20)));
  std::set<std::string> in_topic;
  CHECK(ebs::test::read_topic_messages(broker.bootstrap_servers(), "split", 1,
                                       [&](int, int64_t, std::string value) { in_topic.insert(std::move(value)); }) == 1);
  std::vector<UndeliveredLetters::Letter> letters = settings.dead_letters->take();
  std::set<std::string> lettered;
  for (const UndeliveredLetters::Letter& letter : letters) lettered.insert(letter.record->original);
  // Both partitions got some of the keys, so that the reports of the two interleave.
  REQUIRE(!in_topic.empty());
  REQUIRE(!lettered.empty());
  CHECK(queue.delivered() == in_topic.size());
  CHECK(lettered.size() == letters.size());
  for (const std::string& body : lettered) CHECK_MESSAGE(in_topic.count(body) == 0, "delivered, yet a letter: " << body);
  CHECK(in_topic.size() + lettered.size() == kMessages);
  // The delivered messages' batches are released; the letters' wait for them.
  CHECK(tracker->records_acknowledged() == in_topic.size());
  letters.clear();
  CHECK(tracker->records_acknowledged() == kMessages);
  CHECK(tracker->records_abandoned() == 0);
}

TEST_CASE("a Kafka message librdkafka refuses mid-batch: the ones handed over before reach the topic, only the rest are letters") {
  // The broker answers slowly, so that while the first message's delivery is awaited the next
  // nine queue and go as one batch; its fifth is larger than message.max.bytes: librdkafka refuses
  // it (publish throws) after the four before it were handed over.
  ebs::kafka::EmbeddedBroker broker(1);
  broker.create_topic("mid", 1);
  REQUIRE(rd_kafka_mock_broker_set_rtt(broker.mock_cluster(), 1, 500) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  settings.timeout = std::chrono::seconds(30);
  settings.kafka_properties = {{"bootstrap.servers", broker.bootstrap_servers()}, {"message.max.bytes", "1000"}};
  settings.dead_letters = std::make_shared<UndeliveredLetters>(1 << 20);
  OutputQueue queue({Output::Kind::kafka, "mid"}, settings);
  auto body = [](int i) { return i == 5 ? "{\"n\":5,\"pad\":\"" + std::string(3000, 'x') + "\"}" : "{\"n\":" + std::to_string(i) + "}"; };
  for (int i = 0; i < 10; ++i) CHECK(queue.offer(body(i), "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  REQUIRE(ebs::test::wait_until([&] { return queue.failure().has_value(); }, std::chrono::seconds(40)));
  REQUIRE(ebs::test::wait_until([&] { return queue.delivered() + queue.dead_lettered() == 10; }, std::chrono::seconds(20)));
  CHECK(queue.failure()->find("larger than message.max.bytes") != std::string::npos);
  std::set<std::string> in_topic;
  CHECK(ebs::test::read_topic_messages(broker.bootstrap_servers(), "mid", 1,
                                       [&](int, int64_t, std::string value) { in_topic.insert(std::move(value)); }) == 1);
  std::vector<UndeliveredLetters::Letter> letters = settings.dead_letters->take();
  std::set<std::string> lettered;
  for (const UndeliveredLetters::Letter& letter : letters) {
    lettered.insert(letter.record->original);
    // The message's key kept at the end of the place, for `ebs-flow replay` to send it with.
    CHECK(letter.record->place.ends_with(", key \"k\""));
    CHECK(ebs::kafka::key_of_place(letter.record->place) == "k");
  }
  CHECK(in_topic == std::set<std::string>{body(0), body(1), body(2), body(3), body(4)});
  CHECK(lettered == std::set<std::string>{body(5), body(6), body(7), body(8), body(9)});
  CHECK(queue.delivered() == 5);
  CHECK(queue.undelivered() == 5);
  letters.clear();
  CHECK(tracker->records_acknowledged() == 10);
  CHECK(tracker->records_abandoned() == 0);
}

TEST_CASE("a failed output's refused messages keep to the owner's limit: above it rate-limited, not letters") {
  RecordingWebhook hook({.status = 500, .gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings;
  settings.max_per_second = 1;  // one token, at most one more each second
  settings.dead_letters = std::make_shared<UndeliveredLetters>(1 << 20);
  OutputQueue queue(webhook_output(hook), settings);
  CHECK(queue.offer("{}", "", "k", batch_tokens(tracker, 1)) == OutputQueue::Offer::queued);
  hook.release(100);
  REQUIRE(ebs::test::wait_until([&] { return queue.dead_lettered() == 1; }, std::chrono::seconds(20)));
  // Offered at once: the bucket holds at most one token (two if one is earned meanwhile).
  for (int i = 0; i < 6; ++i) queue.offer("{}", "", "k", batch_tokens(tracker, 1));
  CHECK(queue.refused() <= 2);
  CHECK(queue.rate_limited() == 6 - queue.refused());
  CHECK(queue.dead_lettered() == 1 + queue.refused());
  CHECK(settings.dead_letters->take().size() == 1 + queue.refused());
}

TEST_CASE("a full dead-letter path drops what finds no room, counted, and never blocks the output") {
  RecordingWebhook hook({.status = 503, .gated = true});
  auto tracker = std::make_shared<AckTracker>();
  OutputSettings settings = unlimited();
  // Room for two of these letters (a letter counts its bytes, place and reason besides the record).
  const std::string body(1000, 'x');
  settings.dead_letters = std::make_shared<UndeliveredLetters>(2 * (sizeof(ebs::DeadLetter) + 1000 + 300));
  OutputQueue queue(webhook_output(hook), settings);
  for (int i = 0; i < 5; ++i) queue.offer(body, "", "k", batch_tokens(tracker, 1));
  hook.release(100);
  REQUIRE(ebs::test::wait_until([&] { return queue.dead_lettered() + queue.dead_letters_dropped() == 5; },
                                std::chrono::seconds(20)));
  CHECK(queue.dead_lettered() == 2);
  CHECK(queue.dead_letters_dropped() == 3);
  CHECK(settings.dead_letters->dropped() == 3);
  // The dropped ones' batches are released (as a failed output's messages were before dead letters);
  // the two kept wait for their letters.
  CHECK(tracker->records_acknowledged() == 3);
  {
    auto letters = settings.dead_letters->take();
    CHECK(letters.size() == 2);
  }
  CHECK(tracker->records_acknowledged() == 5);
  CHECK(settings.dead_letters->bytes() == 0);
}

TEST_CASE("letters never taken are abandoned with the box: their batches are read again by a restart") {
  auto tracker = std::make_shared<AckTracker>();
  {
    UndeliveredLetters box(1 << 20);
    CHECK(box.put("{}", "bytes", "p", "r", batch_tokens(tracker, 2)));
  }
  CHECK(tracker->records_abandoned() == 2);
  CHECK(tracker->acknowledged_through() == 0);
}

TEST_CASE("an output's target as shown: no user information, query or Slack secret") {
  CHECK(public_target({Output::Kind::kafka, "alice-bright"}) == "alice-bright");
  CHECK(public_target({Output::Kind::webhook, "http://127.0.0.1:8080/hook"}) == "http://127.0.0.1:8080/hook");
  CHECK(public_target({Output::Kind::webhook, "https://user:pw@example.org/in?token=s3cret#x"}) ==
        "https://example.org/in?...");
  CHECK(public_target({Output::Kind::slack, "https://hooks.slack.com/services/T000/B000/XXXXsecret"}) ==
        "https://hooks.slack.com/services/T000/B000/...");
  CHECK(public_target({Output::Kind::slack, "https://hooks.slack.com"}) == "https://hooks.slack.com");
  // Path segments after the first, 16 characters or longer: tokens, whatever the service.
  CHECK(public_target({Output::Kind::webhook,
                       "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789_ab"}) ==
        "https://discord.com/api/webhooks/.../...");
  CHECK(public_target({Output::Kind::webhook, "https://example.org/a0123456789abcdef0/in/x?k=v"}) ==
        "https://example.org/a0123456789abcdef0/in/x?...");
  CHECK(public_target({Output::Kind::webhook, "https://example.org/in/0123456789abcdef"}) == "https://example.org/in/...");
  OutputQueue queue({Output::Kind::slack, "https://hooks.slack.com/services/T000/B000/XXXXsecret"}, unlimited());
  CHECK(queue.describe().find("XXXXsecret") == std::string::npos);
}
