// `ebs-flow filters replay DEAD_LETTERS... --to-webhook URL [--all-outputs] [--rate N] [--timeout-ms N]`:
// POSTs a filter output's undelivered messages (dead letters of kind `undelivered`, docs/filters.md
// "Undelivered messages") to a webhook again, through the webhook output the `filters` actor uses
// (the same request, Content-Type and time-out; a 2xx answer is delivery). The letters are read as
// `ebs-flow replay --kind undelivered` reads them (kafka::for_each_letter_message: `avro-datum`
// letters and other kinds skipped), one line at a time, at most kReplayWindow messages in memory.
// Only the letters of the webhook (or Slack) output at that URL are sent (their `place` starts with
// `webhook URL:` or `slack URL:`, the URL as public_target shows it), the others skipped, unless
// `--all-outputs`; nothing selected is an error. The first request that fails stops the sending:
// what is left is not sent (counted). SIGINT/SIGTERM stop it too: the messages in flight are
// waited for, the rest not sent. Prints {"webhook", "messages", "bytes", "skipped", "not_sent",
// "interrupted"} as one JSON line (the URL shown without its secrets); exit 1 when something
// selected was not sent, or nothing was selected. `--remove-delivered`: each file is written again
// without the letters whose messages were delivered (atomically: `.NAME.replay-PID` beside the file a
// link names, its mode and owner kept where allowed, synced, renamed over it), so a second replay
// does not send them again; a file that changed while it was replayed (a run still writing it:
// compared when opened for the rewrite and right before the rename), or that cannot be read,
// written or replaced, is left as it was, reported (exit 1), the counts printed all the same. A
// run appending after the rename is not seen: not while a run writes it. Adds "removed". A file
// given twice is read once.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/cli/command_registry.h"
#include "engine/runtime/stop_signals.h"

namespace ebs::filter_registry {

// Messages offered to the webhook output and not yet answered, at most (the rest wait in the files).
inline constexpr uint64_t kReplayWindow = 256;

struct WebhookReplayOptions {
  // Dead-letter files (*.jsonl; another file is refused) and folders (their *.jsonl files, others ignored).
  std::vector<std::string> inputs;
  std::string url;
  bool all_outputs = false;  // every undelivered letter, whichever output's
  bool remove_delivered = false;  // write each file again without its delivered letters
  double rate = 0;  // messages per second; 0 = as fast as the webhook answers; at most 1e6
  std::chrono::milliseconds timeout{5000};  // per request, as the `filters` actor's output_timeout_ms; at most 1 h
  // SIGINT/SIGTERM end the sending when given (blocked before the output's thread starts: the CLI's).
  StopSignals* stop_signals = nullptr;
};

struct WebhookReplayCounts {
  uint64_t messages = 0;  // delivered (answered 2xx)
  uint64_t bytes = 0;     // of those
  uint64_t skipped = 0;   // letters of another kind or output, or without a message to send (avro-datum)
  uint64_t not_sent = 0;  // selected, and not delivered: left when a request failed or a signal came
  bool interrupted = false;  // a signal stopped it
  uint64_t removed = 0;      // delivered letters taken out of their files (remove_delivered)
  std::vector<std::string> not_rewritten;  // files that changed while replayed: why, each (remove_delivered)
  std::optional<std::string> failure;  // why the first failed request failed
  uint64_t selected() const { return messages + not_sent; }
};

WebhookReplayCounts replay_to_webhook(const WebhookReplayOptions& options);

void register_webhook_replay_command(CommandRegistry& commands);

}  // namespace ebs::filter_registry
