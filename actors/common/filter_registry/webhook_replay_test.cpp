#include "actors/common/filter_registry/webhook_replay.h"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "actors/common/filter_registry/filter_registry.h"
#include "actors/common/kafka/replay.h"
#include "engine/util/base64.h"
#include "engine/util/fault.h"
#include "test/support/recording_webhook.h"
#include "test/support/temp_dir.h"

using namespace ebs::filter_registry;
using ebs::test::RecordingWebhook;
using ebs::test_support::TempDir;

namespace {

std::string letter(const std::string& kind, const std::string& place, const std::string& message) {
  return nlohmann::json{{"type", "DeadLetter"},     {"actor", "users"},        {"kind", kind},
                        {"place", place},           {"reason", "HTTP 503"},    {"original_format", "bytes"},
                        {"original", ebs::base64_encode(message)}}
      .dump();
}

// A dead-letter file with the letters of two webhook outputs of one host (`hook`'s, three; another
// path's, two), a Kafka output's and an input record's letter.
struct Letters {
  std::vector<std::string> hook{R"({"n":1})", R"({"n":22})", R"({"n":333})"};
  std::string file;
  Letters(const TempDir& dir, const RecordingWebhook& webhook) {
    file = dir.file("dead-letters.jsonl");
    std::ofstream out(file);
    const std::string at = ": filter 3 v1 (carol/all), alert 1";
    out << letter("undelivered", "webhook " + webhook.url() + at, hook[0]) << "\n"
        << letter("undelivered", "webhook " + webhook.url("/other") + at, R"({"other":1})") << "\n"
        << letter("undelivered", "kafka topic alice-bright" + at, "avro bytes") << "\n"
        << letter("undelivered", "webhook " + webhook.url() + at, hook[1]) << "\n"
        << letter("failed", "src", "an alert") << "\n"
        << letter("undelivered", "webhook " + webhook.url("/other") + at, R"({"other":2})") << "\n"
        << letter("undelivered", "webhook " + webhook.url() + at, hook[2]) << "\n";
  }
};

WebhookReplayOptions to(const std::string& file, const std::string& url) {
  WebhookReplayOptions options;
  options.inputs = {file};
  options.url = url;
  options.timeout = std::chrono::milliseconds(10000);
  return options;
}

}  // namespace

TEST_CASE("filters replay sends only the letters of the webhook output at its URL; the others are skipped") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  Letters letters(dir, webhook);
  const WebhookReplayCounts c = replay_to_webhook(to(letters.file, webhook.url()));
  CHECK(webhook.bodies() == letters.hook);
  CHECK(c.messages == 3);
  CHECK(c.bytes == letters.hook[0].size() + letters.hook[1].size() + letters.hook[2].size());
  CHECK(c.skipped == 4);  // the other webhook's two, the Kafka output's, the input record's
  CHECK(c.not_sent == 0);
  CHECK(!c.failure);
}

TEST_CASE("filters replay of a URL no letter names selects nothing; --all-outputs sends every undelivered letter") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  Letters letters(dir, webhook);
  const WebhookReplayCounts none = replay_to_webhook(to(letters.file, webhook.url("/none")));
  CHECK(none.selected() == 0);
  CHECK(none.skipped == 7);
  CHECK(webhook.bodies().empty());
  WebhookReplayOptions all = to(letters.file, webhook.url());
  all.all_outputs = true;
  const WebhookReplayCounts c = replay_to_webhook(all);
  CHECK(c.messages == 6);
  CHECK(c.skipped == 1);  // the input record's
  CHECK(webhook.bodies() == std::vector<std::string>{letters.hook[0], R"({"other":1})", "avro bytes", letters.hook[1],
                                                  R"({"other":2})", letters.hook[2]});
}

TEST_CASE("filters replay stopped midway by a failing webhook counts the k delivered before it, the rest not sent") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook({.status = 503, .first = 2, .first_status = 200});  // 200, 200, then 503
  Letters letters(dir, webhook);
  const WebhookReplayCounts c = replay_to_webhook(to(letters.file, webhook.url()));
  CHECK(c.messages == 2);
  CHECK(c.bytes == letters.hook[0].size() + letters.hook[1].size());
  CHECK(c.not_sent == 1);
  REQUIRE(c.failure);
  CHECK(c.failure->find("HTTP 503") != std::string::npos);
  CHECK(webhook.bodies() == letters.hook);  // the third was refused: the first refusal stops it
}

TEST_CASE("filters replay: a folder's other files are ignored, a named one refused; --rate and --timeout-ms bounded") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  Letters letters(dir, webhook);
  std::ofstream(dir.file("README.txt")) << "not letters\n";
  const WebhookReplayCounts c = replay_to_webhook(to(dir.path().string(), webhook.url()));
  CHECK(c.messages == 3);
  CHECK_THROWS_WITH_AS(replay_to_webhook(to(dir.file("README.txt"), webhook.url())),
                       doctest::Contains("not a dead-letter file (*.jsonl)"), ebs::Fault);
  WebhookReplayOptions fast = to(letters.file, webhook.url());
  fast.rate = 1e300;
  CHECK_THROWS_WITH_AS(replay_to_webhook(fast), doctest::Contains("--rate"), ebs::Fault);
  WebhookReplayOptions slow = to(letters.file, webhook.url());
  slow.timeout = std::chrono::milliseconds(int64_t{1} << 60);
  CHECK_THROWS_WITH_AS(replay_to_webhook(slow), doctest::Contains("--timeout-ms"), ebs::Fault);
  CHECK(webhook.bodies().size() == 3);
}

TEST_CASE("filters replay --rate: the first message goes at once, the next ones 1/rate apart") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  Letters letters(dir, webhook);
  // One message at 0.2/s: sent at once (a schedule one record late would wait 5 s for it).
  std::ofstream(dir.file("one.jsonl")) << letter("undelivered", "webhook " + webhook.url() + ": alert 1", letters.hook[0]) << "\n";
  WebhookReplayOptions one = to(dir.file("one.jsonl"), webhook.url());
  one.rate = 0.2;
  auto started = std::chrono::steady_clock::now();
  CHECK(replay_to_webhook(one).messages == 1);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
  // The three of `hook` at 5/s: the third is due 0.4 s after the first.
  WebhookReplayOptions three = to(letters.file, webhook.url());
  three.rate = 5;
  started = std::chrono::steady_clock::now();
  CHECK(replay_to_webhook(three).messages == 3);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(400));
  CHECK(webhook.bodies().size() == 4);
}

namespace {

std::vector<std::string> lines_of(const std::string& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("filters replay --remove-delivered takes the delivered letters out of the file; a second replay does not "
          "send them again") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook({.status = 503, .first = 2, .first_status = 200});  // 200, 200, then 503
  Letters letters(dir, webhook);
  const std::vector<std::string> before = lines_of(letters.file);
  WebhookReplayOptions options = to(letters.file, webhook.url());
  options.remove_delivered = true;
  const WebhookReplayCounts c = replay_to_webhook(options);
  CHECK(c.messages == 2);
  CHECK(c.not_sent == 1);
  CHECK(c.removed == 2);
  CHECK(c.not_rewritten.empty());
  // Every other line as it was, in order: the hook's first two letters (rows 1 and 4) are gone.
  CHECK(lines_of(letters.file) == std::vector<std::string>{before[1], before[2], before[4], before[5], before[6]});
  // Again, to a webhook that takes everything: only the letters not delivered before.
  RecordingWebhook working;
  WebhookReplayOptions again = to(letters.file, working.url());
  again.all_outputs = true;
  again.remove_delivered = true;
  const WebhookReplayCounts second = replay_to_webhook(again);
  CHECK(second.messages == 4);
  CHECK(second.removed == 4);
  CHECK(working.bodies() == std::vector<std::string>{R"({"other":1})", "avro bytes", R"({"other":2})", letters.hook[2]});
  CHECK(lines_of(letters.file) == std::vector<std::string>{before[4]});  // the input record's letter
  // Without the flag the file is left as it was.
  WebhookReplayOptions keep = to(letters.file, working.url());
  keep.all_outputs = true;
  CHECK(replay_to_webhook(keep).selected() == 0);
  CHECK(lines_of(letters.file) == std::vector<std::string>{before[4]});
}

TEST_CASE("filters replay --remove-delivered leaves a file that changed while it was replayed as it was") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook({.gated = true});
  Letters letters(dir, webhook);
  WebhookReplayOptions options = to(letters.file, webhook.url());
  options.remove_delivered = true;
  auto replayed = std::async(std::launch::async, [&] { return replay_to_webhook(options); });
  REQUIRE(webhook.wait_for_requests(1));
  // A run appends a letter meanwhile (the dead-letter sink writing the file).
  std::ofstream(letters.file, std::ios::app) << letter("failed", "src", "another alert") << "\n";
  const std::vector<std::string> grown = lines_of(letters.file);
  webhook.release(3);
  const WebhookReplayCounts c = replayed.get();
  CHECK(c.messages == 3);
  CHECK(c.removed == 0);
  REQUIRE(c.not_rewritten.size() == 1);
  CHECK(c.not_rewritten[0].find("changed while it was replayed") != std::string::npos);
  CHECK(lines_of(letters.file) == grown);
}

namespace {

// The names in a folder (dot files too: a temporary file left behind shows).
std::set<std::string> names_in(const std::filesystem::path& folder) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(folder)) out.insert(e.path().filename().string());
  return out;
}

// A dead-letter file of `messages` for `webhook`'s output, one letter each.
std::string hook_letters(const TempDir& dir, const std::string& name, const RecordingWebhook& webhook,
                         const std::vector<std::string>& messages) {
  const std::string file = dir.file(name);
  std::ofstream out(file);
  for (const std::string& m : messages) out << letter("undelivered", "webhook " + webhook.url() + ": alert", m) << "\n";
  return file;
}

}  // namespace

TEST_CASE("filters replay --remove-delivered: letters delivered across two files, the refusal in the second") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook({.status = 503, .first = 3, .first_status = 200});  // 200 x 3, then 503
  const std::string a = hook_letters(dir, "a.jsonl", webhook, {"a1", "a2"});
  const std::string b = hook_letters(dir, "b.jsonl", webhook, {"b1", "b2", "b3"});
  const std::vector<std::string> b_before = lines_of(b);
  WebhookReplayOptions options = to(a, webhook.url());
  options.inputs = {a, b};
  options.remove_delivered = true;
  const WebhookReplayCounts c = replay_to_webhook(options);
  CHECK(c.messages == 3);
  CHECK(c.not_sent == 2);
  CHECK(c.removed == 3);
  CHECK(c.not_rewritten.empty());
  CHECK(webhook.bodies() == std::vector<std::string>{"a1", "a2", "b1", "b2"});  // b2 refused: the end
  CHECK(lines_of(a).empty());
  CHECK(lines_of(b) == std::vector<std::string>{b_before[1], b_before[2]});
  CHECK(names_in(dir.path()) == std::set<std::string>{"a.jsonl", "b.jsonl"});
}

TEST_CASE("filters replay: a file given twice (by name, and in its folder) is read once") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  const std::string file = hook_letters(dir, "dead-letters.jsonl", webhook, {"m1", "m2"});
  WebhookReplayOptions options = to(file, webhook.url());
  options.inputs = {file, file, dir.path().string()};
  options.remove_delivered = true;
  const WebhookReplayCounts c = replay_to_webhook(options);
  CHECK(webhook.bodies() == std::vector<std::string>{"m1", "m2"});
  CHECK(c.messages == 2);
  CHECK(c.removed == 2);
  CHECK(c.not_rewritten.empty());
  CHECK(lines_of(file).empty());
}

TEST_CASE("filters replay --remove-delivered rewrites the file a link names, keeping its mode and owner") {
  TempDir dir("webhook-replay");
  TempDir links("webhook-replay-links");
  RecordingWebhook webhook;
  const std::string file = hook_letters(dir, "dead-letters.jsonl", webhook, {"m1", "m2"});
  std::ofstream(file, std::ios::app) << letter("failed", "src", "an alert") << "\n";
  const std::string kept = lines_of(file).back();
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                         std::filesystem::perms::group_read);
  // As root (CI's containers): the file a service's user wrote keeps that user; otherwise one cannot give it away.
  const bool root = ::geteuid() == 0;
  if (root) REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
  struct stat before {};
  REQUIRE(::stat(file.c_str(), &before) == 0);
  const std::filesystem::path link = links.path() / "letters.jsonl";
  std::filesystem::create_symlink(file, link);
  WebhookReplayOptions options = to(link.string(), webhook.url());
  options.remove_delivered = true;
  const WebhookReplayCounts c = replay_to_webhook(options);
  CHECK(c.removed == 2);
  CHECK(c.not_rewritten.empty());
  CHECK(std::filesystem::is_symlink(link));  // still the link, not a file in its place
  CHECK(lines_of(file) == std::vector<std::string>{kept});
  struct stat after {};
  REQUIRE(::stat(file.c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);  // written again, atomically
  CHECK((after.st_mode & 07777) == 0640);
  CHECK(after.st_uid == before.st_uid);
  CHECK(after.st_gid == before.st_gid);
  CHECK(names_in(dir.path()) == std::set<std::string>{"dead-letters.jsonl"});
  CHECK(names_in(links.path()) == std::set<std::string>{"letters.jsonl"});
}

TEST_CASE("filters replay --remove-delivered that cannot write its temporary file leaves the file as it was and "
          "still counts") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  const std::string file = hook_letters(dir, "dead-letters.jsonl", webhook, {"m1", "m2"});
  const std::vector<std::string> before = lines_of(file);
  // A folder where the temporary file goes (.NAME.replay-PID, a dot file): it cannot be created.
  const std::string temporary = ".dead-letters.jsonl.replay-" + std::to_string(::getpid());
  std::filesystem::create_directory(dir.path() / temporary);
  WebhookReplayOptions options = to(file, webhook.url());
  options.remove_delivered = true;
  const WebhookReplayCounts c = replay_to_webhook(options);
  CHECK(c.messages == 2);
  CHECK(c.removed == 0);
  REQUIRE(c.not_rewritten.size() == 1);
  CHECK(c.not_rewritten[0].find("cannot create") != std::string::npos);
  CHECK(c.not_rewritten[0].find("its 2 delivered letters are still in it") != std::string::npos);
  CHECK(lines_of(file) == before);
  CHECK(names_in(dir.path()) == std::set<std::string>{"dead-letters.jsonl", temporary});
  // `ebs-flow replay FOLDER` would not take the temporary file for letters: a dot file.
  CHECK(ebs::kafka::replay_files({dir.path().string()}) == std::vector<std::filesystem::path>{file});
}

TEST_CASE("filters replay --rate: a tiny rate sends the first message at once and never the second") {
  TempDir dir("webhook-replay");
  RecordingWebhook webhook;
  const std::string file = hook_letters(dir, "dead-letters.jsonl", webhook, {"m1", "m2"});
  WebhookReplayOptions options = to(file, webhook.url());
  options.rate = 1e-12;  // the second due 31,700 years on: past the clock's nanoseconds
  // SIGTERM to the replaying thread alone (it blocks it and takes it; no other thread sees it) ends the wait.
  std::promise<pthread_t> replaying;
  auto replayed = std::async(std::launch::async, [&] {
    ebs::StopSignals signals;
    options.stop_signals = &signals;
    replaying.set_value(::pthread_self());
    return replay_to_webhook(options);
  });
  const pthread_t thread = replaying.get_future().get();
  const bool first = webhook.wait_for_requests(1);
  CHECK(webhook.wait_for_requests(2, std::chrono::milliseconds(500)) == false);  // not the second
  ::pthread_kill(thread, SIGTERM);
  REQUIRE(first);
  const WebhookReplayCounts c = replayed.get();
  CHECK(c.messages == 1);
  CHECK(c.not_sent == 1);
  CHECK(c.interrupted);
  WebhookReplayOptions infinite = to(file, webhook.url());
  infinite.rate = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(replay_to_webhook(infinite), doctest::Contains("--rate"), ebs::Fault);
  CHECK(webhook.bodies() == std::vector<std::string>{"m1"});
}
