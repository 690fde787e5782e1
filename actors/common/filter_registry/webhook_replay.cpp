#include "actors/common/filter_registry/webhook_replay.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <deque>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "actors/common/filter_registry/filter_outputs.h"
#include "actors/common/kafka/replay.h"
#include "engine/util/fault.h"

namespace ebs::filter_registry {

namespace {

constexpr std::chrono::milliseconds kMaxTimeout = std::chrono::hours(1);
// How often the sending looks at the output's progress and for a signal while it waits.
constexpr std::chrono::milliseconds kPoll{2};
constexpr std::chrono::milliseconds kPaceSlice{50};

// The dead-letter files of the inputs: a file named must be one (*.jsonl: any other file would be
// sent whole, as `ebs-flow replay` sends an alert file to a topic); a folder gives its *.jsonl files.
// A file given twice (named twice, or named and in a folder given) is read once: its letters would
// be sent twice, and --remove-delivered would find it changed by its own first rewrite.
std::vector<std::filesystem::path> letter_files(const std::vector<std::string>& inputs) {
  std::vector<std::filesystem::path> out;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const std::string& input : inputs) {
    std::error_code ec;
    const bool folder = std::filesystem::is_directory(input, ec);
    for (const auto& file : kafka::replay_files({input})) {
      if (file.extension() != ".jsonl") {
        if (!folder) fail(file.string(), "not a dead-letter file (*.jsonl)");
        continue;
      }
      struct stat st {};
      if (::stat(file.c_str(), &st) == 0 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
      out.push_back(file);
    }
  }
  return out;
}

// A file as it was when the replay began reading it: the same inode, size and modification time.
struct FileState {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t written_s = 0, written_ns = 0;
  bool operator==(const FileState&) const = default;
};
FileState state_of(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
}
std::optional<FileState> state_of(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;  // as changed: not written again
  return state_of(st);
}

std::string error_text() { return std::strerror(errno); }

void sync_or_fail(int fd, const std::string& place) {
  if (::fsync(fd) != 0) fail(place, "cannot sync: " + error_text());
}

// What remove_delivered opened and made, closed and (the temporary file, unless renamed) removed
// however it ends.
struct Rewriting {
  int in = -1;
  FILE* out = nullptr;
  std::filesystem::path temporary;
  bool renamed = false;
  ~Rewriting() {
    if (in >= 0) ::close(in);
    if (out) std::fclose(out);
    if (!temporary.empty() && !renamed) ::unlink(temporary.c_str());
  }
};

// `file` written again without its first `drop` letters that `selected` chose (the delivered
// ones: a webhook's messages are delivered one at a time, in order), every other line as it was,
// if it is still as it was (`before`) when opened and when renamed over: the file a symbolic link
// names, to `.NAME.replay-PID` beside it (a dot file: `ebs-flow replay FOLDER` skips it) with its
// mode and (as far as allowed) owner, synced, renamed over it, the folder synced. Reads exactly the
// size it checked. Returns the letters taken out; raises a `failed` Fault (the file left as it
// was, the temporary file removed) when it changed or cannot be read or written. A run appending
// to it after the rename appends to the old inode, lost to the file: not while a run writes it.
uint64_t remove_delivered(const std::filesystem::path& given, const FileState& before, uint64_t drop,
                          const std::function<bool(const std::string& place)>& selected) {
  std::error_code ec;
  const std::filesystem::path file = std::filesystem::canonical(given, ec);
  if (ec) fail(given.string(), "cannot resolve: " + ec.message());
  const std::string place = file.string();
  const auto changed = [&] { fail(place, "changed while it was replayed (a run still writing it?)"); };
  Rewriting r;
  r.in = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (r.in < 0) fail(place, "cannot read: " + error_text());
  struct stat st {};
  if (::fstat(r.in, &st) != 0) fail(place, "cannot examine: " + error_text());
  if (state_of(st) != before) changed();
  std::filesystem::path temporary = file.parent_path() / ("." + file.filename().string() + ".replay-" + std::to_string(::getpid()));
  const int out = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) fail(temporary.string(), "cannot create: " + error_text());
  r.temporary = temporary;
  r.out = ::fdopen(out, "w");
  if (!r.out) {
    ::close(out);
    fail(temporary.string(), "cannot open: " + error_text());
  }
  // The file's owner kept where allowed (root's replay of a service's file); another user cannot give
  // a file away (EPERM): it is then the replaying user's, as any file the user writes.
  if (::fchown(out, st.st_uid, st.st_gid) != 0 && errno != EPERM)
    fail(temporary.string(), "cannot set the owner: " + error_text());
  if (::fchmod(out, st.st_mode & 07777) != 0) fail(temporary.string(), "cannot set the mode: " + error_text());

  uint64_t dropped = 0, skipped = 0;
  size_t row = 0;
  const auto take_line = [&](std::string_view text) {
    std::string line(text);
    ++row;
    if (dropped < drop) {
      auto letter = kafka::letter_message(line, place + ":row " + std::to_string(row), "undelivered", skipped, nullptr);
      if (letter && selected(letter->place)) {
        ++dropped;
        return;
      }
    }
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), r.out) != line.size())
      fail(temporary.string(), "cannot write: " + error_text());
  };
  // Exactly the size checked: a read error is an error, a file shorter than that has changed.
  std::string pending;
  std::vector<char> chunk(1 << 16);
  for (off_t left = st.st_size; left > 0;) {
    const ssize_t got = ::read(r.in, chunk.data(), static_cast<size_t>(std::min<off_t>(left, static_cast<off_t>(chunk.size()))));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(place, "cannot read: " + error_text());
    if (got == 0) changed();
    left -= got;
    pending.append(chunk.data(), static_cast<size_t>(got));
    size_t start = 0;
    for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1)
      take_line(std::string_view(pending).substr(start, end - start));
    pending.erase(0, start);
  }
  if (!pending.empty()) take_line(pending);  // a last line without its newline gets one
  if (std::fflush(r.out) != 0) fail(temporary.string(), "cannot write: " + error_text());
  sync_or_fail(out, temporary.string());
  // Right before the rename: a run that appended meanwhile would lose its letters.
  if (::fstat(r.in, &st) != 0) fail(place, "cannot examine: " + error_text());
  if (state_of(st) != before) changed();
  if (::rename(temporary.c_str(), file.c_str()) != 0) fail(place, "cannot replace it: " + error_text());
  r.renamed = true;
  const std::filesystem::path folder = file.parent_path();
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0 || ::fsync(dir) != 0)  // written, not yet durable: said, the letters counted removed
    spdlog::warn("{}: written again, but its folder could not be synced: {}", place, error_text());
  if (dir >= 0) ::close(dir);
  return dropped;
}

}  // namespace

WebhookReplayCounts replay_to_webhook(const WebhookReplayOptions& options) {
  kafka::check_replay_rate(options.rate);
  if (options.timeout.count() <= 0 || options.timeout > kMaxTimeout)
    fail("--timeout-ms", "must be 1 to " + std::to_string(kMaxTimeout.count()) + ", not " +
                             std::to_string(options.timeout.count()));
  const std::vector<std::filesystem::path> files = letter_files(options.inputs);
  // A letter's place starts with its output as the output describes itself (OutputQueue::describe).
  std::vector<std::string> places;
  for (Output::Kind kind : {Output::Kind::webhook, Output::Kind::slack})
    places.push_back(std::string(to_string(kind)) + " " + public_target({kind, options.url}) + ":");
  const auto selected = [&](const std::string& place) {
    return options.all_outputs ||
           std::any_of(places.begin(), places.end(), [&](const std::string& p) { return place.starts_with(p); });
  };

  OutputSettings settings;
  // Paced here (--rate), never dropped by the output's own limit; at most kReplayWindow messages
  // are offered and not answered (the queue never fills), and none waits too long for the output's liking.
  settings.max_per_second = 1e12;
  settings.queue_capacity = kReplayWindow + 1;
  settings.max_hold = std::chrono::hours(24 * 365);
  settings.timeout = options.timeout;
  OutputQueue queue(Output{Output::Kind::webhook, options.url}, settings);
  WebhookReplayCounts counts;
  uint64_t chosen = 0, offered = 0, counted = 0;
  // The sizes of the messages offered and not yet counted delivered: a webhook's messages go one at
  // a time, in order, so those delivered are the first ones.
  std::deque<size_t> in_flight;
  const auto count_delivered = [&] {
    for (const uint64_t delivered = queue.delivered(); counted < delivered && !in_flight.empty(); ++counted) {
      counts.bytes += in_flight.front();
      in_flight.pop_front();
    }
  };
  const auto interrupted = [&] {
    if (options.stop_signals && !counts.interrupted && options.stop_signals->poll() != 0) counts.interrupted = true;
    return counts.interrupted;
  };
  const kafka::ReplayPace pace(options.rate);
  // For remove_delivered: each file as it was before the reading (the file a link names; none: unknown, not rewritten).
  std::vector<std::optional<FileState>> states;
  std::vector<uint64_t> offered_of(files.size(), 0);  // messages each file gave
  for (const std::filesystem::path& file : files) states.push_back(options.remove_delivered ? state_of(file) : std::nullopt);
  for (size_t f = 0; f < files.size(); ++f) {
    const std::filesystem::path& file = files[f];
    const bool read = kafka::for_each_letter_message(
        file, "undelivered", counts.skipped, nullptr, [&](kafka::ReplayMessage letter) {
          if (!selected(letter.place)) {
            ++counts.skipped;
            return true;
          }
          ++chosen;
          // After a failure the rest is only counted (not sent); after a signal nothing more is read.
          for (;;) {
            count_delivered();
            if (interrupted()) return false;
            if (queue.failure()) return true;
            if (offered - counted < kReplayWindow) break;
            std::this_thread::sleep_for(kPoll);
          }
          const auto due = pace.due(offered);
          for (auto now = std::chrono::steady_clock::now(); now < due; now = std::chrono::steady_clock::now()) {
            if (interrupted()) return false;
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(due - now, kPaceSlice));
          }
          const size_t size = letter.value.size();
          if (queue.offer(std::move(letter.value), "", "") == OutputQueue::Offer::queued) {
            in_flight.push_back(size);
            ++offered;
            ++offered_of[f];
          }
          return true;
        });
    if (!read) break;
  }
  // Every request is waited for, each bounded by the time-out (a webhook that stops answering
  // fails the output), unless a signal comes: then what is queued is not sent, and only the
  // request in flight is waited for (so the counts are exact).
  auto progress_at = std::chrono::steady_clock::now();
  while (!queue.failure() && counted < offered && !interrupted()) {
    const uint64_t before = counted;
    count_delivered();
    const auto now = std::chrono::steady_clock::now();
    if (counted != before)
      progress_at = now;
    else if (now - progress_at > options.timeout * 2)
      break;
    std::this_thread::sleep_for(kPoll);
  }
  if (counts.interrupted) queue.abandon_queued();
  queue.drain(options.timeout * 2);
  count_delivered();
  counts.messages = counted;
  counts.not_sent = chosen - counted;
  counts.failure = queue.failure();
  // The delivered messages are the first `counted` offered, in the files' order.
  for (size_t f = 0, left = counted; options.remove_delivered && f < files.size() && left > 0; ++f) {
    const uint64_t delivered = std::min<uint64_t>(left, offered_of[f]);
    left -= delivered;
    if (delivered == 0) continue;
    const std::string left_in = ": not written again, its " + std::to_string(delivered) + " delivered letters are still in it";
    if (!states[f]) {
      counts.not_rewritten.push_back(files[f].string() + ": could not be examined before the replay" + left_in);
      continue;
    }
    try {
      counts.removed += remove_delivered(files[f], *states[f], delivered, selected);
    } catch (const Fault& e) {
      if (e.kind() != FaultKind::failed) throw;
      counts.not_rewritten.push_back(e.place() + ": " + e.message() + left_in);
    }
  }
  return counts;
}

void register_webhook_replay_command(CommandRegistry& commands) {
  commands.add(
      "filters replay",
      "POST a filter output's undelivered messages (dead letters of kind `undelivered`) to a webhook again",
      [](CLI::App& app) -> CommandRegistry::Runner {
        auto options = std::make_shared<WebhookReplayOptions>();
        auto timeout_ms = std::make_shared<int64_t>(options->timeout.count());
        app.add_option("inputs", options->inputs, "dead-letter files (*.jsonl), or folders of them")->required();
        app.add_option("--to-webhook", options->url,
                       "the URL to POST each message to: the letters of the webhook (or Slack) output at that URL are sent")
            ->required();
        app.add_flag("--all-outputs", options->all_outputs,
                     "send every undelivered letter, whichever output's (select them first)");
        app.add_flag("--remove-delivered", options->remove_delivered,
                     "write each file again without the letters delivered (not while a run writes it)");
        app.add_option("--rate", options->rate, "messages per second (0 = as fast as the webhook answers; at most 1000000)");
        app.add_option("--timeout-ms", *timeout_ms,
                       "per request (as the `filters` actor's output_timeout_ms; 1 to 3600000)")
            ->default_val(5000);
        return [options, timeout_ms]() -> int {
          try {
            options->timeout = std::chrono::milliseconds(*timeout_ms);
            // Blocked before the output's thread starts (it inherits the mask), kept through the printing.
            StopSignals stop_signals;
            options->stop_signals = &stop_signals;
            WebhookReplayCounts c = replay_to_webhook(*options);
            const std::string shown = public_target({Output::Kind::webhook, options->url});
            if (c.selected() == 0) {
              std::cerr << "no undelivered letter of the webhook output " << shown << " in the inputs (" << c.skipped
                        << " letters skipped): a letter's place starts with `webhook " << shown
                        << ":` (or `slack ...:`); --all-outputs sends every undelivered letter" << std::endl;
              return exit_code::failed;
            }
            if (c.not_sent > 0)
              spdlog::error("{} messages not sent: {}", c.not_sent,
                            c.interrupted ? std::string("stopped by a signal")
                                          : c.failure.value_or("webhook " + shown + ": not delivered by the end"));
            for (const std::string& why : c.not_rewritten) spdlog::error("{}", why);
            if (!options->remove_delivered && c.messages > 0)
              spdlog::info("the {} delivered letters are still in the inputs: a second replay sends them again "
                           "(--remove-delivered takes them out)",
                           c.messages);
            nlohmann::json printed{{"webhook", shown},   {"messages", c.messages}, {"bytes", c.bytes},
                                   {"skipped", c.skipped}, {"not_sent", c.not_sent}, {"interrupted", c.interrupted}};
            if (options->remove_delivered) printed["removed"] = c.removed;
            std::cout << printed.dump() << std::endl;
            return c.not_sent > 0 || !c.not_rewritten.empty() ? exit_code::failed : exit_code::ok;
          } catch (const Fault& f) {
            std::cerr << f.what() << std::endl;
            return exit_code::failed;
          }
        };
      });
}

}  // namespace ebs::filter_registry
