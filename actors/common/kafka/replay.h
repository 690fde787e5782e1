// `ebs-flow replay DIR|FILE... --topic T [--brokers HOST:PORT] [--rate N] [--wire ocf|confluent]
// [--schema-id N] [--loop]`: publishes alert files to Kafka (the embedded broker or any).
//  - wire ocf: each file is one message as it is (a ZTF message is a whole container file);
//  - wire confluent: each record of a container file becomes a Confluent frame (magic 0,
//    big-endian schema id, the datum); the id defaults to MAJOR*100+MINOR of an lsst.vX_Y schema;
//    a file that already is a Confluent frame goes as it is;
//  - a dead-letter file (*.jsonl) replays every letter whose original_format is avro or bytes
//    (base64 `original`), the rest is counted as skipped; a filter output's undelivered messages
//    (kind `undelivered`, messages for a user's topic or webhook, not alerts) only with
//    `--kind undelivered`, which replays the letters of that kind only (skipped_undelivered).
// A message that cannot be sent (larger than message.max.bytes, refused by the broker) is reported
// on stderr with its file and skipped; the others still go (exit 1 at the end).
// Prints {"topic", "messages", "bytes", "skipped", "skipped_undelivered", "not_sent"} as one JSON line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cli/command_registry.h"
#include "engine/runtime/offer_schedule.h"

namespace ebs::kafka {

struct ReplayOptions {
  std::vector<std::string> inputs;
  std::string topic;
  std::string brokers;
  double rate = 0;           // messages per second; 0 = as fast as possible
  std::string wire = "ocf";  // ocf | confluent
  int64_t schema_id = -1;    // confluent: -1 = from the schema name
  bool loop = false;         // until SIGINT/SIGTERM
  // Dead-letter files: only the letters of this kind; empty = every kind but `undelivered`.
  std::string kind;
  std::map<std::string, std::string> properties;
};

struct ReplayCounts {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t skipped = 0;
  uint64_t skipped_undelivered = 0;  // letters of kind `undelivered` not asked for (within skipped)
  uint64_t not_sent = 0;  // refused by the client (too large) or by the broker: reported, skipped
};

// A Confluent wire-format frame: magic 0, the big-endian schema id, the Avro datum.
std::string confluent_frame(uint32_t schema_id, std::string_view datum);

// Each letter of a dead-letter file (*.jsonl) with a message to send, read one line at a time:
// `take(message, place)` gets a letter of `kind` (empty: every kind but `undelivered`, those counted
// in `skipped_undelivered` when given) whose original is bytes (original_format avro or bytes,
// base64), with the letter's `place`; the others are counted in `skipped`. `take` returns false to
// stop the reading (then this returns false). Raises a `failed` Fault naming the file and row.
bool for_each_letter_message(const std::filesystem::path& file, const std::string& kind, uint64_t& skipped,
                             uint64_t* skipped_undelivered,
                             const std::function<bool(std::string message, const std::string& place)>& take);

// The Kafka messages one input file makes. Raises a `failed` Fault naming the file. A dead-letter
// file gives the letters of `kind` (empty: every kind but `undelivered`, those counted in
// `skipped_undelivered` when given).
std::vector<std::string> messages_of_file(const std::filesystem::path& file, const std::string& wire,
                                          int64_t schema_id, uint64_t& skipped, const std::string& kind = {},
                                          uint64_t* skipped_undelivered = nullptr);

// The pace of a replay at `rate` messages per second (0: unpaced): message n (0-based) is due n/rate
// seconds after the start, the first at once. The times are OfferSchedule's (a source's `rate`),
// one record earlier: its record n is offered once n + 1 are due, at (n + 1)/rate.
class ReplayPace {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ReplayPace(double rate, Clock::time_point start = Clock::now()) : schedule_({.rate = rate}), start_(start) {}
  Clock::time_point due(uint64_t n) const {
    if (n == 0 || !schedule_.limited()) return start_;
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(schedule_.offer_time(n - 1)));
  }

 private:
  OfferSchedule schedule_;
  Clock::time_point start_;
};

// Every file of the inputs (directories recursively, in name order).
std::vector<std::filesystem::path> replay_files(const std::vector<std::string>& inputs);

// Publishes every input once (or until a signal with `loop`) and flushes.
ReplayCounts replay(const ReplayOptions& options);

void register_replay_command(ebs::CommandRegistry& registry);
void register_broker_command(ebs::CommandRegistry& registry);

}  // namespace ebs::kafka
