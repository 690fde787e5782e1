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
// --rate: 0 (as fast as possible) or above 0 up to kMaxReplayRate, anything else refused.
// A message that cannot be sent (larger than message.max.bytes, refused by the broker) is reported
// on stderr with its file and skipped; the others still go (exit 1 at the end).
// Prints {"topic", "messages", "bytes", "skipped", "skipped_undelivered", "not_sent"} as one JSON line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
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

// A message to send again: its bytes and its Kafka key ("": none).
struct ReplayMessage {
  std::string value;
  std::string key;
  std::string place;  // a letter's place ("" for an alert file's message)
};

// A letter keeps the Kafka key of its message at the end of its place, `, key "K"` (K as a JSON
// string, ASCII: a key that is not UTF-8 is not kept exactly); a place without it has no key.
std::string place_with_key(std::string place, std::string_view key);
std::string key_of_place(std::string_view place);

// One line of a dead-letter file (`row_place`: file:row, for faults): the message of a letter of
// `kind` (empty: every kind but `undelivered`, those counted in `skipped_undelivered` when given)
// whose original is bytes (original_format avro or bytes, base64), with its place and key; another
// letter is counted in `skipped`, an empty line is nothing. Raises a `failed` Fault at `row_place`.
std::optional<ReplayMessage> letter_message(const std::string& line, const std::string& row_place, const std::string& kind,
                                            uint64_t& skipped, uint64_t* skipped_undelivered);

// Each letter of a dead-letter file (*.jsonl) with a message to send (letter_message), read one
// line at a time: `take(message)` returns false to stop the reading (then this returns false).
bool for_each_letter_message(const std::filesystem::path& file, const std::string& kind, uint64_t& skipped,
                             uint64_t* skipped_undelivered, const std::function<bool(ReplayMessage message)>& take);

// The Kafka messages one input file makes. Raises a `failed` Fault naming the file. A dead-letter
// file gives the letters of `kind` (empty: every kind but `undelivered`, those counted in
// `skipped_undelivered` when given), each with the key it kept.
std::vector<ReplayMessage> messages_of_file(const std::filesystem::path& file, const std::string& wire,
                                            int64_t schema_id, uint64_t& skipped, const std::string& kind = {},
                                            uint64_t* skipped_undelivered = nullptr);

// The highest --rate of `replay` and `filters replay`, messages per second.
inline constexpr double kMaxReplayRate = 1e6;

// Raises a `failed` Fault at --rate unless `rate` is 0 (unpaced) or a finite rate above 0 up to
// kMaxReplayRate (CLI11 takes `inf` and `nan` as numbers).
void check_replay_rate(double rate);

// The pace of a replay at `rate` messages per second (0: unpaced): message n (0-based) is due n/rate
// seconds after the start, the first at once. The times are OfferSchedule's (a source's `rate`),
// one record earlier: its record n is offered once n + 1 are due, at (n + 1)/rate. A time past what
// the clock holds (a tiny rate: 1e-12/s puts the second message 31,700 years on) is
// Clock::time_point::max(), never. A rate check_replay_rate refuses is refused here too.
class ReplayPace {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ReplayPace(double rate, Clock::time_point start = Clock::now());
  Clock::time_point due(uint64_t n) const;

 private:
  double rate_;
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
