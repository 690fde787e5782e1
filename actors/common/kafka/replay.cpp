#include "actors/common/kafka/replay.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "actors/common/avro/byte_reader.h"
#include "actors/common/avro/container_file.h"
#include "actors/common/avro/datum_decoder.h"
#include "actors/common/avro/decode_plan.h"
#include "actors/common/kafka/bootstrap_relay.h"
#include "actors/common/kafka/kafka_client.h"
#include "engine/util/base64.h"
#include "engine/util/fault.h"

namespace ebs::kafka {

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot read");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Each record of a container as a Confluent frame: the datum bytes are found by decoding.
std::vector<std::string> container_to_frames(const std::string& bytes, const std::string& place, int64_t schema_id) {
  avro::ContainerHeader header = avro::read_container_header(bytes, place);
  auto plan = avro::DecodePlan::compile(header.schema, place + " (schema)");
  if (schema_id < 0) {
    static const std::regex lsst(R"(lsst\.v(\d+)_(\d+)\..*)");
    std::smatch m;
    const std::string& name = plan->root_name();
    if (!std::regex_match(name, m, lsst))
      fail(place, "schema '" + name + "' has no Rubin version: give --schema-id");
    schema_id = std::stoll(m[1]) * 100 + std::stoll(m[2]);
  }
  std::vector<std::string> out;
  avro::ContainerBlocks blocks(bytes, header, place);
  avro::ContainerBlock block;
  avro::DatumDecoder decoder;
  while (blocks.next(block)) {
    avro::ByteReader in(block.data, place, block.data_offset);
    for (int64_t i = 0; i < block.object_count; ++i) {
      const char* start = in.position();
      decoder.decode(plan, in, nullptr);
      out.push_back(confluent_frame(static_cast<uint32_t>(schema_id), std::string_view(start, in.position() - start)));
    }
  }
  return out;
}

bool signalled(const sigset_t& signals) {
  timespec zero{0, 0};
  return sigtimedwait(&signals, nullptr, &zero) > 0;
}

}  // namespace

std::string confluent_frame(uint32_t schema_id, std::string_view datum) {
  std::string out(5, '\0');
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((schema_id >> (24 - 8 * i)) & 0xff);
  out.append(datum);
  return out;
}

void check_replay_rate(double rate) {
  if (!(rate == 0 || (rate > 0 && rate <= kMaxReplayRate)))  // NaN fails every comparison
    fail("--rate", fmt::format("must be 0 (as fast as possible) or a number of messages per second above 0 up to {}, "
                               "not {}",
                               static_cast<int64_t>(kMaxReplayRate), rate));
}

ReplayPace::ReplayPace(double rate, Clock::time_point start) : rate_(rate), schedule_({.rate = rate}), start_(start) {
  check_replay_rate(rate);
}

ReplayPace::Clock::time_point ReplayPace::due(uint64_t n) const {
  if (n == 0 || rate_ == 0) return start_;
  // Ticks as a double, compared with what is left before max() with a margin wider than the rounding
  // of either: a time past it (a tiny rate, or a huge n) would overflow the clock's integer.
  constexpr double kTicksPerSecond = static_cast<double>(Clock::period::den) / static_cast<double>(Clock::period::num);
  const double room = static_cast<double>((Clock::time_point::max() - start_).count()) * (1 - 1e-9);
  // n/rate first (offer_time's upper bound): a rate so small that it is infinite never reaches OfferSchedule.
  if (!(static_cast<double>(n) / rate_ * kTicksPerSecond < room)) return Clock::time_point::max();
  const double ticks = schedule_.offer_time(n - 1) * kTicksPerSecond;
  if (!(ticks < room)) return Clock::time_point::max();
  return start_ + Clock::duration(static_cast<Clock::rep>(ticks));
}

std::string place_with_key(std::string place, std::string_view key) {
  return place + ", key " + nlohmann::json(std::string(key)).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

std::string key_of_place(std::string_view place) {
  // Inside the JSON string no bare quote can stand: the last `, key "` whose quote is not the
  // closing one (a key ending with `, key `) is the key's own.
  constexpr std::string_view kMarker = ", key \"";
  if (place.size() < kMarker.size() + 1 || !place.ends_with('"')) return {};
  const size_t at = place.rfind(kMarker, place.size() - kMarker.size() - 1);
  if (at == std::string_view::npos) return {};
  const nlohmann::json key = nlohmann::json::parse(place.substr(at + 6), nullptr, false);
  return key.is_string() ? key.get<std::string>() : std::string();
}

std::optional<ReplayMessage> letter_message(const std::string& line, const std::string& row_place, const std::string& kind,
                                            uint64_t& skipped, uint64_t* skipped_undelivered) {
  if (line.empty()) return std::nullopt;
  nlohmann::json letter = nlohmann::json::parse(line, nullptr, false);
  if (letter.is_discarded() || !letter.is_object()) fail(row_place, "not a JSON object");
  const std::string format = letter.value("original_format", "");
  // A filter output's undelivered messages belong to a user's topic or webhook: never sent to
  // an alert topic by a replay of the whole file.
  const std::string letter_kind = letter.value("kind", "");
  if (kind.empty() ? letter_kind == "undelivered" : letter_kind != kind) {
    ++skipped;
    if (skipped_undelivered && letter_kind == "undelivered") ++*skipped_undelivered;
    return std::nullopt;
  }
  if ((format == "avro" || format == "bytes") && letter.contains("original") && letter["original"].is_string()) {
    const auto place = letter.find("place");
    ReplayMessage out{base64_decode(letter["original"].get<std::string>(), row_place), "",
                      place != letter.end() && place->is_string() ? place->get<std::string>() : ""};
    // Only a Kafka output's undelivered message kept its key (place_with_key).
    if (letter_kind == "undelivered" && out.place.starts_with("kafka topic ")) out.key = key_of_place(out.place);
    return out;
  }
  ++skipped;  // alerts as JSON go back through the dead-letter-replay source; avro-datum has no frame
  return std::nullopt;
}

bool for_each_letter_message(const std::filesystem::path& file, const std::string& kind, uint64_t& skipped,
                             uint64_t* skipped_undelivered, const std::function<bool(ReplayMessage message)>& take) {
  const std::string place = file.string();
  std::ifstream in(file);
  if (!in) fail(place, "cannot read");
  std::string line;
  size_t row = 0;
  while (std::getline(in, line)) {
    ++row;
    std::optional<ReplayMessage> message =
        letter_message(line, place + ":row " + std::to_string(row), kind, skipped, skipped_undelivered);
    if (message && !take(std::move(*message))) return false;
  }
  return true;
}

std::vector<ReplayMessage> messages_of_file(const std::filesystem::path& file, const std::string& wire,
                                            int64_t schema_id, uint64_t& skipped, const std::string& kind,
                                            uint64_t* skipped_undelivered) {
  std::string place = file.string();
  std::vector<ReplayMessage> out;
  if (file.extension() == ".jsonl") {
    for_each_letter_message(file, kind, skipped, skipped_undelivered, [&](ReplayMessage message) {
      out.push_back(std::move(message));
      return true;
    });
    return out;
  }
  std::string bytes = read_all(file);
  if (wire == "confluent" && avro::has_container_magic(bytes)) {
    for (std::string& frame : container_to_frames(bytes, place, schema_id)) out.push_back({std::move(frame), "", ""});
    return out;
  }
  out.push_back({std::move(bytes), "", ""});
  return out;
}

std::vector<std::filesystem::path> replay_files(const std::vector<std::string>& inputs) {
  std::vector<std::filesystem::path> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& e : std::filesystem::recursive_directory_iterator(input, ec))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') found.push_back(e.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(input, ec)) {
      files.emplace_back(input);
    } else {
      fail(input, "no such file or directory");
    }
  }
  return files;
}

ReplayCounts replay(const ReplayOptions& options) {
  check_replay_rate(options.rate);
  if (options.wire != "ocf" && options.wire != "confluent")
    fail("--wire", "must be ocf or confluent, not '" + options.wire + "'");
  auto properties = options.properties;
  if (!options.brokers.empty()) properties["bootstrap.servers"] = options.brokers;
  Publisher publisher(properties, options.topic);
  std::vector<std::filesystem::path> files = replay_files(options.inputs);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (options.loop) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ReplayCounts counts;
  // Messages the broker refused are counted from the delivery reports at the end.
  auto finish = [&] {
    publisher.flush_reports();
    if (counts.skipped_undelivered > 0)
      spdlog::warn("skipped {} letters of kind undelivered (a filter output's messages, not alerts): give "
                   "--kind undelivered to send them, to the output's own topic",
                   counts.skipped_undelivered);
    if (publisher.failed() > 0)
      spdlog::error("{}: {} messages not delivered: {}", options.topic, publisher.failed(), publisher.first_error());
    counts.not_sent += publisher.failed();
    counts.messages -= std::min(counts.messages, publisher.failed());
    return counts;
  };
  const ReplayPace pace(options.rate);
  do {
    for (const auto& file : files) {
      auto messages = messages_of_file(file, options.wire, options.schema_id, counts.skipped, options.kind,
                                       &counts.skipped_undelivered);
      for (size_t i = 0; i < messages.size(); ++i) {
        const std::string& message = messages[i].value;
        std::this_thread::sleep_until(pace.due(counts.messages));
        try {
          publisher.publish(message, messages[i].key);  // a letter's key as it kept it
        } catch (const Fault& f) {
          if (f.kind() != FaultKind::failed) throw;
          spdlog::error("{} message {}: not sent: {}", file.string(), i + 1, f.message());
          ++counts.not_sent;
          continue;
        }
        ++counts.messages;
        counts.bytes += message.size();
      }
      if (options.loop && signalled(signals)) return finish();
    }
  } while (options.loop && !files.empty());
  return finish();
}

void register_replay_command(ebs::CommandRegistry& registry) {
  registry.add("replay", "publish alert files or dead-letter files to a Kafka topic",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto options = std::make_shared<ReplayOptions>();
                 app.add_option("inputs", options->inputs, "alert files, folders, dead-letters.jsonl")->required();
                 app.add_option("--topic", options->topic, "Kafka topic")->required();
                 app.add_option("--brokers", options->brokers, "bootstrap servers HOST:PORT")->default_val("localhost:9092");
                 app.add_option("--rate", options->rate, "messages per second (0 = as fast as possible; at most 1000000)");
                 app.add_option("--wire", options->wire, "ocf (one file, one message) or confluent (framed records)");
                 app.add_option("--schema-id", options->schema_id, "Confluent schema id (default: from lsst.vX_Y)");
                 app.add_flag("--loop", options->loop, "start over until SIGINT/SIGTERM");
                 app.add_option("--kind", options->kind,
                                "dead-letter files: only letters of this kind (default: all but `undelivered`, "
                                "a filter output's messages)");
                 return [options]() -> int {
                   try {
                     ReplayCounts c = replay(*options);
                     std::cout << nlohmann::json{{"topic", options->topic}, {"messages", c.messages},
                                                 {"bytes", c.bytes}, {"skipped", c.skipped},
                                                 {"skipped_undelivered", c.skipped_undelivered}, {"not_sent", c.not_sent}}
                                      .dump()
                               << std::endl;
                     return c.not_sent > 0 ? 1 : 0;
                   } catch (const Fault& f) {
                     std::cerr << f.what() << std::endl;
                     return 1;
                   }
                 };
               });
}

void register_broker_command(ebs::CommandRegistry& registry) {
  registry.add("broker", "run an embedded Kafka broker (librdkafka's mock cluster) until SIGINT/SIGTERM",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto partitions = std::make_shared<int>(3);
                 auto port = std::make_shared<int>(0);
                 auto topics = std::make_shared<std::vector<std::string>>();
                 app.add_option("--partitions", *partitions, "partitions per topic")->default_val(3);
                 app.add_option("--topic", *topics, "topics to create (more are created on first use)");
                 app.add_option("--port", *port,
                                "bootstrap on 127.0.0.1:PORT (a relay to the mock broker's own port; 0: none)")
                     ->check(CLI::Range(0, 65535));
                 return [partitions, topics, port]() -> int {
                   sigset_t signals;
                   sigemptyset(&signals);
                   sigaddset(&signals, SIGINT);
                   sigaddset(&signals, SIGTERM);
                   // Blocked before librdkafka starts its threads, so only sigwait takes them.
                   pthread_sigmask(SIG_BLOCK, &signals, nullptr);
                   try {
                     EmbeddedBroker broker;
                     for (const std::string& t : *topics) broker.create_topic(t, *partitions);
                     std::unique_ptr<BootstrapRelay> relay;
                     if (*port > 0) relay = std::make_unique<BootstrapRelay>("127.0.0.1", *port, broker.bootstrap_servers());
                     std::cout << nlohmann::json{{"bootstrap_servers",
                                                  relay ? relay->address() : broker.bootstrap_servers()},
                                                 {"broker", broker.bootstrap_servers()},
                                                 {"topics", *topics},
                                                 {"partitions", *partitions}}
                                      .dump()
                               << std::endl;
                     int sig = 0;
                     sigwait(&signals, &sig);
                     return 0;
                   } catch (const Fault& f) {
                     std::cerr << f.what() << std::endl;
                     return 1;
                   }
                 };
               });
}

}  // namespace ebs::kafka
