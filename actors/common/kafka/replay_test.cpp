#include "actors/common/kafka/replay.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/common/avro/decoder.h"
#include "test/support/kafka_test_support.h"
#include "engine/model/record_json.h"
#include "engine/util/base64.h"
#include "engine/util/fault.h"
#include "test/support/temp_dir.h"
#include "test/support/test_data.h"

namespace ebs::kafka {

namespace {

// `dir`/dead-letters.jsonl holding `lines`, one a line.
std::string dead_letters(const test_support::TempDir& dir, const std::vector<std::string>& lines) {
  const std::string file = dir / "dead-letters.jsonl";
  std::ofstream out(file);
  for (const std::string& line : lines) out << line << "\n";
  return file;
}

std::string bytes_letter(const std::string& original) {
  return R"({"actor":"src","original_format":"bytes","original":")" + base64_encode(original) + "\"}";
}

}  // namespace

TEST_CASE("replay: a container file is one message as it is; with wire confluent, one frame per record") {
  uint64_t skipped = 0;
  auto ztf = test::data_dir() / "ztf/kowalski-v3.3-v4.01/2475433850015010009.avro";
  auto messages = messages_of_file(ztf, "ocf", -1, skipped);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].value.size() == std::filesystem::file_size(ztf));

  auto schemas = std::make_shared<const avro::SchemaDirectory>(avro::SchemaDirectory::load(test::data_dir() / "lsst/schema"));
  avro::Decoder decoder({std::make_shared<avro::SchemaCache>(), schemas, nullptr});
  for (int v : {9, 10, 11}) {
    auto frames = messages_of_file(test::data_dir() / ("lsst/schema/" + std::to_string(v) + "/0/sample_data/fakeAlert.avro"),
                                   "confluent", -1, skipped);
    REQUIRE(frames.size() == 1);
    const std::string& frame = frames[0].value;
    CHECK(frame[0] == 0);
    CHECK((static_cast<uint8_t>(frame[3]) << 8 | static_cast<uint8_t>(frame[4])) == v * 100);
    std::vector<RawRecord> records;
    decoder.decode(std::make_shared<const std::string>(frame), "frame", records);
    CHECK(records.size() == 1);
  }
  // ZTF has no Rubin version in its schema name: the id must be given.
  CHECK_THROWS_WITH_AS(messages_of_file(ztf, "confluent", -1, skipped), doctest::Contains("give --schema-id"), Fault);
  CHECK(messages_of_file(ztf, "confluent", 7, skipped).size() == 1);
}

TEST_CASE("replay: a dead-letter file gives back its Avro and bytes originals, skips JSON ones") {
  auto dir = std::filesystem::temp_directory_path() / ("ebs-replay-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string avro_bytes("Obj\x01\x00\xff binary", 13);
  {
    std::ofstream out(dir / "dead-letters.jsonl");
    out << R"({"actor":"src","original_format":"avro","original":")" << base64_encode(avro_bytes) << "\"}\n";
    out << R"({"actor":"check","original_format":"json","original":"{\"ra\":1}"})" << "\n";
    out << R"({"actor":"src","original_format":"bytes","original":")" << base64_encode("abc") << "\"}\n";
    // A filter output's message: not an alert, replayed only when asked for.
    out << R"({"actor":"filters","kind":"undelivered","original_format":"bytes","original":")"
        << base64_encode("{\"to\":\"alice\"}") << "\"}\n";
  }
  uint64_t skipped = 0, skipped_undelivered = 0;
  auto messages = messages_of_file(dir / "dead-letters.jsonl", "ocf", -1, skipped, "", &skipped_undelivered);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].value == avro_bytes);
  CHECK(messages[1].value == "abc");
  CHECK(skipped == 2);
  CHECK(skipped_undelivered == 1);
  skipped = skipped_undelivered = 0;
  auto undelivered = messages_of_file(dir / "dead-letters.jsonl", "ocf", -1, skipped, "undelivered", &skipped_undelivered);
  REQUIRE(undelivered.size() == 1);
  CHECK(undelivered[0].value == "{\"to\":\"alice\"}");
  CHECK(skipped == 3);
  CHECK(skipped_undelivered == 0);
  std::filesystem::remove_all(dir);
  CHECK(ebs::base64_decode("aGVsbG8=", "x") == "hello");  // the one base64 (engine/util)
  CHECK_THROWS_AS(ebs::base64_decode("a*b", "x"), Fault);
}

TEST_CASE("replay reports and skips a dead letter too large to send, and sends the rest") {
  test_support::TempDir dir("replay-big");
  // The second larger than librdkafka's default message.max.bytes (1,000,000).
  const std::string file = dead_letters(dir, {bytes_letter("first"), bytes_letter(std::string(1500000, 'x')), bytes_letter("third")});
  EmbeddedBroker broker;
  broker.create_topic("again", 1);
  ReplayOptions options;
  options.inputs = {file};
  options.topic = "again";
  options.brokers = broker.bootstrap_servers();
  ReplayCounts counts = replay(options);
  CHECK(counts.messages == 2);
  CHECK(counts.not_sent == 1);
  CHECK(test::read_topic(broker.bootstrap_servers(), "again", 1) == std::vector<std::string>{"first", "third"});
}

TEST_CASE("replay --rate: the first message at once, message n at n/rate seconds (OfferSchedule's times, one record earlier)") {
  const auto start = ReplayPace::Clock::now();
  const auto seconds_to = [&](ReplayPace::Clock::time_point t) { return std::chrono::duration<double>(t - start).count(); };
  const ReplayPace pace(4, start);
  CHECK(seconds_to(pace.due(0)) == 0);
  CHECK(seconds_to(pace.due(1)) == doctest::Approx(0.25).epsilon(1e-6));
  CHECK(seconds_to(pace.due(2)) == doctest::Approx(0.5).epsilon(1e-6));
  CHECK(seconds_to(pace.due(1000)) == doctest::Approx(250).epsilon(1e-6));
  // Each due time is the source schedule's time of the record before it.
  const OfferSchedule schedule({.rate = 4});
  CHECK(seconds_to(pace.due(7)) == doctest::Approx(schedule.offer_time(6)).epsilon(1e-9));
  // 0: unpaced, every message due at the start.
  const ReplayPace unpaced(0, start);
  CHECK(unpaced.due(0) == start);
  CHECK(unpaced.due(1000) == start);
}

TEST_CASE("replay --rate: an infinite, negative or too high rate is refused; a time past the clock's is never") {
  const auto start = ReplayPace::Clock::now();
  const auto never = ReplayPace::Clock::time_point::max();
  for (const double rate : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(), -1.0,
                            kMaxReplayRate * 2, 1e300}) {
    CHECK_THROWS_WITH_AS(ReplayPace(rate, start), doctest::Contains("--rate"), Fault);
    CHECK_THROWS_WITH_AS(check_replay_rate(rate), doctest::Contains("--rate"), Fault);
  }
  // Refused before any broker is asked for (none listens here): `ebs-flow replay --rate inf` once spun.
  ReplayOptions options;
  options.inputs = {"/nonexistent"};
  options.topic = "t";
  options.brokers = "127.0.0.1:1";
  options.rate = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(replay(options), doctest::Contains("--rate"), Fault);
  // A tiny rate: the second message 1e12 s on, past what the clock's nanoseconds hold.
  const ReplayPace tiny(1e-12, start);
  CHECK(tiny.due(0) == start);
  CHECK(tiny.due(1) == never);
  CHECK(tiny.due(std::numeric_limits<uint64_t>::max()) == never);
  const ReplayPace tiniest(std::numeric_limits<double>::denorm_min(), start);  // n/rate is infinite
  CHECK(tiniest.due(1) == never);
  // The highest rate: message n at n microseconds, until the clock's end.
  const ReplayPace fastest(kMaxReplayRate, start);
  CHECK(std::chrono::duration<double>(fastest.due(1000000) - start).count() == doctest::Approx(1).epsilon(1e-6));
  CHECK(fastest.due(std::numeric_limits<uint64_t>::max()) == never);  // 1.8e13 s
  // Just inside and just past the end: a time a year short of max() is a time, not never.
  const auto late = never - std::chrono::hours(24 * 365);
  const ReplayPace paced_late(1, late);
  CHECK(std::chrono::duration<double>(paced_late.due(3600) - late).count() == doctest::Approx(3600).epsilon(1e-6));
  CHECK(paced_late.due(uint64_t{2} * 365 * 24 * 3600) == never);
}

TEST_CASE("a letter keeps its Kafka message's key in its place; replay sends the message with it") {
  CHECK(place_with_key("kafka topic t: alert 1 (ZTF1)", "ZTF1") == "kafka topic t: alert 1 (ZTF1), key \"ZTF1\"");
  CHECK(key_of_place("kafka topic t: alert 1 (ZTF1), key \"ZTF1\"") == "ZTF1");
  // Whatever the key holds (quotes, the marker itself, backslashes, UTF-8), it comes back whole;
  // one ending with the marker's text too (its closing quote is no opening one), and the empty one.
  for (const std::string& key : std::vector<std::string>{"a, key \"b\"", "x\\\"", "\xc3\xa9t\xc3\xa9", "(1)", "x, key ",
                                                         ", key ", ", key \"", "x, key \\", "\\", ""})
    CHECK(key_of_place(place_with_key("kafka topic t: alert 2 (" + key + ")", key)) == key);
  CHECK(key_of_place("webhook http://h/hook: alert 3 (ZTF3)").empty());  // none kept
  CHECK(key_of_place("kafka topic t: alert 4, key \"unterminated").empty());
  CHECK(key_of_place("\"").empty());
  CHECK(key_of_place(", key \"").empty());  // only a closing quote

  test_support::TempDir dir("replay-keys");
  const std::vector<std::pair<std::string, std::string>> letters{
      {"{\"n\":1}", place_with_key("kafka topic alice: filter 1 v1 (alice/a), alert 1 (ZTF1)", "ZTF1")},
      {"{\"n\":2}", "kafka topic alice: a message"},  // a letter of before: no key kept
      {"{\"n\":3}", place_with_key("kafka topic alice: filter 1 v1 (alice/a), alert 3 (ZTF3)", "ZTF3")}};
  std::vector<std::string> lines;
  for (const auto& letter : letters)
    lines.push_back(nlohmann::json{{"kind", "undelivered"}, {"original_format", "bytes"},
                                   {"original", base64_encode(letter.first)}, {"place", letter.second}}
                        .dump());
  // Only a Kafka output's undelivered letter keeps a key: a webhook's place or an input's letter
  // that happens to end like one gives none.
  lines.push_back(nlohmann::json{{"kind", "undelivered"}, {"original_format", "bytes"}, {"original", base64_encode("w")},
                                 {"place", place_with_key("webhook http://h/hook: alert 5", "K5")}}
                      .dump());
  lines.push_back(nlohmann::json{{"kind", "failed"}, {"original_format", "bytes"}, {"original", base64_encode("f")},
                                 {"place", place_with_key("kafka topic alerts: offset 6", "K6")}}
                      .dump());
  const std::string file = dead_letters(dir, lines);
  uint64_t skipped_before = 0;
  const auto others = messages_of_file(file, "ocf", -1, skipped_before, "failed");
  REQUIRE(others.size() == 1);
  CHECK(others[0].key.empty());
  uint64_t skipped = 0;
  const auto messages = messages_of_file(file, "ocf", -1, skipped, "undelivered");
  REQUIRE(messages.size() == 4);
  CHECK(messages[0].key == "ZTF1");
  CHECK(messages[1].key.empty());
  CHECK(messages[2].key == "ZTF3");
  CHECK(messages[3].key.empty());
  EmbeddedBroker broker;
  broker.create_topic("alice", 1);
  ReplayOptions options;
  options.inputs = {file};
  options.topic = "alice";
  options.brokers = broker.bootstrap_servers();
  options.kind = "undelivered";
  CHECK(replay(options).messages == 4);
  std::vector<std::pair<std::string, std::string>> got;  // (value, key)
  test::read_topic_messages(broker.bootstrap_servers(), "alice", 1, [&](int, int64_t, std::string value, std::string key) {
    got.emplace_back(std::move(value), std::move(key));
  });
  CHECK(got == std::vector<std::pair<std::string, std::string>>{
                   {"{\"n\":1}", "ZTF1"}, {"{\"n\":2}", ""}, {"{\"n\":3}", "ZTF3"}, {"w", ""}});
}

}  // namespace ebs::kafka
