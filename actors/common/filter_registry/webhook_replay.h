// `ebs-flow filters replay DEAD_LETTERS... --to-webhook URL [--rate N] [--timeout-ms N]`: POSTs a
// filter output's undelivered messages (dead letters of kind `undelivered`, docs/filters.md
// "Undelivered messages") to a webhook again, through the webhook output the `filters` actor uses
// (the same request, Content-Type and time-out; a 2xx answer is delivery). The letters are read as
// `ebs-flow replay --kind undelivered` reads them (kafka::messages_of_file: `avro-datum` letters and
// other kinds skipped); select one output's letters first (jq on `place`). The first request that
// fails stops the replay: what is left is not sent (counted). Prints {"webhook", "messages",
// "bytes", "skipped", "not_sent"} as one JSON line (the URL shown without its secrets); exit 1 when
// something was not sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/cli/command_registry.h"

namespace ebs::filter_registry {

struct WebhookReplayOptions {
  std::vector<std::string> inputs;  // dead-letter files (*.jsonl; another file is refused), folders of them
  std::string url;
  double rate = 0;  // messages per second; 0 = as fast as the webhook answers
  std::chrono::milliseconds timeout{5000};  // per request, as the `filters` actor's output_timeout_ms
};

struct WebhookReplayCounts {
  uint64_t messages = 0;  // delivered (answered 2xx)
  uint64_t bytes = 0;     // of those
  uint64_t skipped = 0;   // letters of another kind, or without a message to send (avro-datum)
  uint64_t not_sent = 0;  // left when a request failed
  std::optional<std::string> failure;  // why the first failed request failed
};

WebhookReplayCounts replay_to_webhook(const WebhookReplayOptions& options);

void register_webhook_replay_command(CommandRegistry& commands);

}  // namespace ebs::filter_registry
