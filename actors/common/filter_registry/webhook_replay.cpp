#include "actors/common/filter_registry/webhook_replay.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/common/filter_registry/filter_outputs.h"
#include "actors/common/kafka/replay.h"
#include "engine/util/fault.h"

namespace ebs::filter_registry {

WebhookReplayCounts replay_to_webhook(const WebhookReplayOptions& options) {
  if (options.rate < 0) fail("--rate", "must be 0 or more, not " + std::to_string(options.rate));
  if (options.timeout.count() <= 0) fail("--timeout-ms", "must be more than 0");
  const Output output{Output::Kind::webhook, options.url};
  WebhookReplayCounts counts;
  std::vector<std::string> messages;
  for (const auto& file : kafka::replay_files(options.inputs)) {
    // Any other file would be sent whole, as `ebs-flow replay` sends an alert file to a topic.
    if (file.extension() != ".jsonl") fail(file.string(), "not a dead-letter file (*.jsonl)");
    for (std::string& m : kafka::messages_of_file(file, "ocf", -1, counts.skipped, "undelivered"))
      messages.push_back(std::move(m));
  }
  OutputSettings settings;
  // Paced here (--rate), never dropped by the output's own limit; every message is queued at once
  // (they are in memory already), and none waits too long for the output's liking.
  settings.max_per_second = 1e12;
  settings.queue_capacity = messages.size() + 1;
  settings.max_hold = std::chrono::hours(24 * 365);
  settings.timeout = options.timeout;
  OutputQueue queue(output, settings);
  std::vector<size_t> sizes;
  for (const std::string& m : messages) sizes.push_back(m.size());
  const auto start = std::chrono::steady_clock::now();
  uint64_t offered = 0;
  for (std::string& m : messages) {
    if (options.rate > 0)
      std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(offered / options.rate)));
    if (queue.failure() || queue.offer(std::move(m), "", "") != OutputQueue::Offer::queued) break;
    ++offered;
  }
  // Each request is bounded by the time-out: a webhook that stops answering fails the output.
  queue.drain(options.timeout * 2);
  counts.messages = queue.delivered();
  counts.not_sent = sizes.size() - counts.messages;
  counts.failure = queue.failure();
  // A webhook's messages go one at a time, in order: those delivered are the first ones.
  for (size_t i = 0; i < counts.messages; ++i) counts.bytes += sizes[i];
  return counts;
}

void register_webhook_replay_command(CommandRegistry& commands) {
  commands.add(
      "filters replay",
      "POST a filter output's undelivered messages (dead letters of kind `undelivered`) to a webhook again",
      [](CLI::App& app) -> CommandRegistry::Runner {
        auto options = std::make_shared<WebhookReplayOptions>();
        auto timeout_ms = std::make_shared<int64_t>(options->timeout.count());
        app.add_option("inputs", options->inputs, "dead-letters.jsonl files (select one output's letters first)")
            ->required();
        app.add_option("--to-webhook", options->url, "the URL to POST each message to")->required();
        app.add_option("--rate", options->rate, "messages per second (0 = as fast as the webhook answers)");
        app.add_option("--timeout-ms", *timeout_ms, "per request (as the `filters` actor's output_timeout_ms)")
            ->default_val(5000);
        return [options, timeout_ms]() -> int {
          try {
            options->timeout = std::chrono::milliseconds(*timeout_ms);
            WebhookReplayCounts c = replay_to_webhook(*options);
            const std::string shown = public_target({Output::Kind::webhook, options->url});
            if (c.not_sent > 0)
              spdlog::error("{} messages not sent: {}", c.not_sent,
                            c.failure.value_or("webhook " + shown + ": not delivered by the end"));
            std::cout << nlohmann::json{{"webhook", shown},      {"messages", c.messages}, {"bytes", c.bytes},
                                        {"skipped", c.skipped}, {"not_sent", c.not_sent}}
                             .dump()
                      << std::endl;
            return c.not_sent > 0 ? exit_code::failed : exit_code::ok;
          } catch (const Fault& f) {
            std::cerr << f.what() << std::endl;
            return exit_code::failed;
          }
        };
      });
}

}  // namespace ebs::filter_registry
