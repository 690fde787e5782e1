#include "actors/sources/kafka/kafka_tools.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "actors/common/avro/schema_cache.h"
#include "actors/common/ingest/message_ingester.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/offsets_by_time.h"
#include "engine/expr/alert_field.h"
#include "engine/expr/compile_error.h"
#include "engine/expr/program.h"
#include "engine/model/record_json.h"
#include "engine/time/time_scale.h"
#include "engine/util/fault.h"

namespace ebs::kafka {

namespace {

using nlohmann::json;
constexpr int kTimeoutMs = 10000;

struct Partition {
  std::string topic;
  int32_t id = 0;
  int32_t leader = -1;
};

struct Watermarks {
  int64_t low = 0, high = 0;
};

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

// A consumer handle for metadata, watermarks, commits and reading. Never subscribes: partitions
// are assigned, so there is no group rebalance and a group's offsets can be set while it is empty.
KafkaHandle make_consumer(const std::string& brokers, const std::string& group,
                          std::map<std::string, std::string> properties) {
  properties["bootstrap.servers"] = brokers;
  // librdkafka wants a group for commits; without one nothing is committed.
  properties["group.id"] = group.empty() ? "ebs-flow-kafka-tools" : group;
  properties["enable.auto.commit"] = "false";
  properties["enable.auto.offset.store"] = "false";
  properties["enable.partition.eof"] = "true";
  properties.emplace("log_level", "3");
  rd_kafka_conf_t* conf = make_conf(properties, "kafka");
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!rk) fail("kafka " + brokers, error);
  rd_kafka_poll_set_consumer(rk);
  return KafkaHandle(rk);
}

// The partitions of `topics` (every topic but Kafka's internal ones when empty), asking again
// for a while when a named topic is missing: a new topic shows its partitions after a moment.
std::vector<Partition> partitions_of(rd_kafka_t* rk, const std::vector<std::string>& topics, const std::string& brokers) {
  for (int attempt = 0;; ++attempt) {
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &metadata, kTimeoutMs);
    if (err) disconnected("kafka " + brokers, std::string("cannot read the cluster's metadata: ") + rd_kafka_err2str(err));
    std::vector<Partition> out;
    std::set<std::string> found;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = metadata->topics[i];
      const std::string name = t.topic;
      const bool wanted = topics.empty() ? !name.starts_with("__")
                                         : std::find(topics.begin(), topics.end(), name) != topics.end();
      if (!wanted || t.err || t.partition_cnt == 0) continue;
      found.insert(name);
      for (int p = 0; p < t.partition_cnt; ++p) out.push_back({name, t.partitions[p].id, t.partitions[p].leader});
    }
    rd_kafka_metadata_destroy(metadata);
    std::string missing;
    for (const std::string& t : topics)
      if (!found.count(t)) missing += (missing.empty() ? "" : ", ") + t;
    if (missing.empty()) {
      std::sort(out.begin(), out.end(),
                [](const Partition& a, const Partition& b) { return std::tie(a.topic, a.id) < std::tie(b.topic, b.id); });
      return out;
    }
    if (attempt == 20) fail("kafka " + brokers, "no topic " + missing + " on the cluster");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Watermarks watermarks(rd_kafka_t* rk, const Partition& p) {
  Watermarks w;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, p.topic.c_str(), p.id, &w.low, &w.high, kTimeoutMs);
  if (err)
    disconnected(p.topic + "/" + std::to_string(p.id), std::string("watermarks: ") + rd_kafka_err2str(err));
  return w;
}

PartitionList list_of(const std::vector<Partition>& partitions) {
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const Partition& p : partitions) rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.id);
  return list;
}

// The group's committed offsets (nullopt: nothing committed), in `partitions` order.
std::vector<std::optional<int64_t>> committed(rd_kafka_t* rk, const std::vector<Partition>& partitions,
                                              const std::string& group) {
  PartitionList list = list_of(partitions);
  rd_kafka_resp_err_t err = rd_kafka_committed(rk, list.get(), kTimeoutMs);
  if (err) disconnected("group " + group, std::string("committed offsets: ") + rd_kafka_err2str(err));
  std::vector<std::optional<int64_t>> out;
  for (int i = 0; i < list->cnt; ++i)
    out.push_back(list->elems[i].offset >= 0 ? std::optional<int64_t>(list->elems[i].offset) : std::nullopt);
  return out;
}

// "2020-01-01T00:00:00Z" (ISO 8601 UTC) or milliseconds since 1970, as Kafka timestamps are.
int64_t timestamp_ms(const std::string& text) {
  char* end = nullptr;
  const long long ms = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && end == text.c_str() + text.size()) return ms;
  const double mjd_utc = time::mjd_tai_to_utc(time::iso_utc_to_mjd_tai(text, "--to"), "--to");
  return static_cast<int64_t>(std::llround((mjd_utc - 40587.0) * 86400000.0));  // MJD 40587 = 1970-01-01
}

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

bool signalled(const sigset_t& signals) {
  timespec zero{0, 0};
  return sigtimedwait(&signals, nullptr, &zero) > 0;
}

// One kept alert as a short line for `tail`: time, object, position, band and magnitude, place.
std::string short_line(const Alert& alert, const std::string& place) {
  const AlertCore& c = alert.core();
  std::string when = "-";
  try {
    when = time::mjd_tai_to_iso_utc(c.mjd_tai);
  } catch (const Fault&) {
  }
  char text[256];
  std::snprintf(text, sizeof text, "%s  %-14s  %11.6f %+11.6f  %-2s %7.3f  %s", when.c_str(), c.object_id.c_str(), c.ra,
                c.dec, c.band.c_str(), c.mag, place.c_str());
  return text;
}

// A `filter` expression over alerts, compiled once.
class AlertFilter {
 public:
  explicit AlertFilter(const std::string& text) {
    if (text.empty()) return;
    auto compiled = expr::Program::compile(text);
    if (auto* errors = std::get_if<std::vector<expr::CompileError>>(&compiled))
      fail("--filter", "in expression:\n" + expr::describe(text, *errors));
    program_ = std::get<expr::Program>(std::move(compiled));
    for (const std::string& f : program_->fields()) fields_.push_back(compile_alert_field(f));
    values_.resize(fields_.size());
  }
  bool keep(const Alert& alert) {
    if (!program_) return true;
    for (size_t f = 0; f < fields_.size(); ++f) values_[f] = fields_[f](alert);
    return program_->test(values_);
  }

 private:
  std::optional<expr::Program> program_;
  std::vector<AlertField> fields_;
  std::vector<expr::Value> values_;
};


}  // namespace

ConsumeCounts consume(const ConsumeOptions& o, bool short_lines) {
  if (o.format != "json" && o.format != "avro") fail("--format", "must be json or avro, not '" + o.format + "'");
  if (o.format == "avro" && o.output_dir.empty()) fail("--format avro", "needs --output DIR (one file per message)");
  std::string from = o.from.empty() ? (o.group.empty() ? (o.follow ? "latest" : "earliest") : "committed") : o.from;
  if (from != "earliest" && from != "latest" && from != "committed")
    fail("--from", "must be earliest, latest or committed, not '" + from + "'");
  if (from == "committed" && o.group.empty()) fail("--from committed", "needs --group");
  AlertFilter filter(o.filter);
  const std::string brokers = o.brokers.empty() ? "localhost:9092" : o.brokers;
  KafkaHandle rk = make_consumer(brokers, o.group, o.properties);
  std::vector<Partition> partitions = partitions_of(rk.get(), o.topics, brokers);

  PartitionList assignment = list_of(partitions);
  std::vector<std::optional<int64_t>> start;
  if (from == "committed") start = committed(rk.get(), partitions, o.group);
  for (int i = 0; i < assignment->cnt; ++i) {
    auto& e = assignment->elems[i];
    e.offset = from == "latest" ? RD_KAFKA_OFFSET_END
               : from == "committed" && start[static_cast<size_t>(i)] ? *start[static_cast<size_t>(i)]
                                                                     : RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), assignment.get()))
    fail("kafka " + brokers, std::string("assign: ") + rd_kafka_err2str(err));

  ingest::MessageIngester ingester({std::make_shared<avro::SchemaCache>(), nullptr, nullptr},
                                   profiles::ProfileSet::builtin());
  ConsumeCounts counts;
  std::unique_ptr<std::ofstream> jsonl;
  if (!o.output_dir.empty()) std::filesystem::create_directories(o.output_dir);
  // Next offset to commit per partition: only past messages whose alerts are written.
  std::map<std::pair<std::string, int32_t>, int64_t> done;
  auto commit = [&] {
    if (o.group.empty() || done.empty()) return;
    if (jsonl) jsonl->flush();
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(done.size())));
    for (const auto& [key, next] : done)
      rd_kafka_topic_partition_list_add(list.get(), key.first.c_str(), key.second)->offset = next;
    if (rd_kafka_resp_err_t err = rd_kafka_commit(rk.get(), list.get(), 0))
      fail("group " + o.group, std::string("commit: ") + rd_kafka_err2str(err));
  };

  const sigset_t signals = stop_signals();
  std::set<std::pair<std::string, int32_t>> at_end;
  auto idle_since = std::chrono::steady_clock::now();
  std::vector<RecordPtr> alerts;
  std::vector<ingest::IngestFailure> failures;
  bool full = false;
  while (!full && !signalled(signals)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 200);
    if (!m) {
      if (!o.follow && std::chrono::steady_clock::now() - idle_since > std::chrono::duration<double>(o.idle_timeout_s))
        break;
      continue;
    }
    idle_since = std::chrono::steady_clock::now();
    const std::string topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert({topic, m->partition});
      rd_kafka_message_destroy(m);
      if (!o.follow && at_end.size() == partitions.size()) break;
      continue;
    }
    if (m->err) {
      const std::string what = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      disconnected("kafka " + brokers, what);
    }
    at_end.erase({topic, m->partition});
    const std::string place = topic + "/" + std::to_string(m->partition) + "/" + std::to_string(m->offset);
    auto payload = std::make_shared<const std::string>(static_cast<const char*>(m->payload), m->len);
    const int32_t partition = m->partition;
    const int64_t offset = m->offset;
    rd_kafka_message_destroy(m);
    ++counts.messages;
    alerts.clear();
    failures.clear();
    ingester.ingest(payload, place, alerts, failures);
    for (const auto& f : failures) std::cerr << f.fault.what() << "\n";
    counts.failed += failures.size();
    counts.alerts += alerts.size();
    bool wrote_message = false;
    for (const RecordPtr& record : alerts) {
      if (full) break;
      const auto& alert = static_cast<const Alert&>(*record);
      if (!filter.keep(alert)) continue;
      ++counts.kept;
      if (o.format == "avro") {
        if (!wrote_message) {
          const std::string file =
              (std::filesystem::path(o.output_dir) / (topic + "_" + std::to_string(partition) + "_" +
                                                      std::to_string(offset) + ".avro"))
                  .string();
          std::ofstream out(file, std::ios::binary);
          out.write(payload->data(), static_cast<std::streamsize>(payload->size()));
          if (!out.flush()) fail(file, "cannot write");
          counts.files.push_back(file);
          wrote_message = true;
        }
      } else if (!o.output_dir.empty()) {
        if (!jsonl) {
          const std::string file = (std::filesystem::path(o.output_dir) / "alerts.jsonl").string();
          jsonl = std::make_unique<std::ofstream>(file, std::ios::app);
          if (!*jsonl) fail(file, "cannot write");
          counts.files.push_back(file);
        }
        *jsonl << to_json(alert).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      } else if (short_lines) {
        std::cout << short_line(alert, place) << std::endl;
      } else {
        std::cout << to_json(alert).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      }
      if (o.count > 0 && static_cast<int64_t>(counts.kept) >= o.count) full = true;
    }
    done[{topic, partition}] = offset + 1;
    if (counts.messages % 1000 == 0) commit();
  }
  std::cout.flush();
  commit();
  rd_kafka_consumer_close(rk.get());
  return counts;
}

namespace {

void add_connection_options(CLI::App& app, std::string& brokers, std::vector<std::string>& properties) {
  app.add_option("--brokers,-b", brokers, "bootstrap servers HOST:PORT")->default_val("localhost:9092");
  app.add_option("-X,--property", properties, "a librdkafka property name=value (repeatable, as kcat -X)");
}

std::map<std::string, std::string> property_map(const std::vector<std::string>& properties) {
  std::map<std::string, std::string> out;
  for (const std::string& p : properties) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) fail("-X " + p, "expected name=value");
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

struct Common {
  std::string brokers, group, to;
  std::vector<std::string> topics, properties;
};

int topics_command(const Common& o) {
  KafkaHandle rk = make_consumer(o.brokers, "", property_map(o.properties));
  std::map<std::string, json> by_topic;
  for (const Partition& p : partitions_of(rk.get(), o.topics, o.brokers)) {
    const Watermarks w = watermarks(rk.get(), p);
    json& t = by_topic[p.topic];
    if (t.is_null()) t = {{"topic", p.topic}, {"partitions", json::array()}, {"messages", 0}};
    t["partitions"].push_back(
        {{"partition", p.id}, {"leader", p.leader}, {"low", w.low}, {"high", w.high}, {"messages", w.high - w.low}});
    t["messages"] = t["messages"].get<int64_t>() + (w.high - w.low);
  }
  for (const auto& [name, line] : by_topic) std::cout << line.dump() << "\n";
  return exit_code::ok;
}

int offsets_command(const Common& o) {
  KafkaHandle rk = make_consumer(o.brokers, o.group, property_map(o.properties));
  const std::vector<Partition> partitions = partitions_of(rk.get(), o.topics, o.brokers);
  const auto offsets = committed(rk.get(), partitions, o.group);
  std::map<std::string, json> by_topic;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const Partition& p = partitions[i];
    // Without --topic, only the topics the group has committed on.
    if (o.topics.empty() && !offsets[i]) continue;
    const Watermarks w = watermarks(rk.get(), p);
    const int64_t lag = w.high - std::max(offsets[i].value_or(w.low), w.low);
    json& t = by_topic[p.topic];
    if (t.is_null()) t = {{"group", o.group}, {"topic", p.topic}, {"partitions", json::array()}, {"lag", 0}};
    t["partitions"].push_back({{"partition", p.id},
                               {"committed", offsets[i] ? json(*offsets[i]) : json(nullptr)},
                               {"low", w.low},
                               {"high", w.high},
                               {"lag", lag}});
    t["lag"] = t["lag"].get<int64_t>() + lag;
  }
  for (const auto& [name, line] : by_topic) std::cout << line.dump() << "\n";
  if (by_topic.empty()) std::cerr << "group " << o.group << ": no committed offsets\n";
  return exit_code::ok;
}

int reset_command(const Common& o) {
  KafkaHandle rk = make_consumer(o.brokers, o.group, property_map(o.properties));
  const std::vector<Partition> partitions = partitions_of(rk.get(), o.topics, o.brokers);
  PartitionList list = list_of(partitions);
  if (o.to == "earliest" || o.to == "latest") {
    for (int i = 0; i < list->cnt; ++i) {
      const Watermarks w = watermarks(rk.get(), partitions[static_cast<size_t>(i)]);
      list->elems[i].offset = o.to == "earliest" ? w.low : w.high;
    }
  } else {
    const int64_t ms = timestamp_ms(o.to);
    for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = ms;
    std::map<std::string, std::string> properties = property_map(o.properties);
    properties["bootstrap.servers"] = o.brokers;
    if (rd_kafka_resp_err_t err = offsets_for_times(rk.get(), list.get(), properties, kTimeoutMs))
      fail("--to " + o.to, std::string("the cluster cannot find offsets by time: ") + rd_kafka_err2str(err));
    for (int i = 0; i < list->cnt; ++i) {
      auto& e = list->elems[i];
      if (e.err)
        fail("--to " + o.to, e.topic + std::string("/") + std::to_string(e.partition) + ": " + rd_kafka_err2str(e.err));
      // No message at or after the time: the end of the partition.
      if (e.offset < 0) e.offset = watermarks(rk.get(), partitions[static_cast<size_t>(i)]).high;
    }
  }
  if (rd_kafka_resp_err_t err = rd_kafka_commit(rk.get(), list.get(), 0))
    fail("group " + o.group, std::string("cannot set its offsets (is the group still running? stop it first): ") +
                                 rd_kafka_err2str(err));
  std::map<std::string, json> by_topic;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    json& t = by_topic[e.topic];
    if (t.is_null()) t = {{"group", o.group}, {"topic", e.topic}, {"to", o.to}, {"partitions", json::array()}};
    t["partitions"].push_back({{"partition", e.partition}, {"offset", e.offset}});
  }
  for (const auto& [name, line] : by_topic) std::cout << line.dump() << "\n";
  rd_kafka_consumer_close(rk.get());
  return exit_code::ok;
}

void add_consume_options(CLI::App& app, ConsumeOptions& o, std::vector<std::string>& properties) {
  add_connection_options(app, o.brokers, properties);
  app.add_option("--topic,-t", o.topics, "topic to read (repeatable)")->required();
  app.add_option("--group,-G", o.group, "consumer group: start from its offsets, commit what was written");
  app.add_option("--filter", o.filter, "keep the alerts for which this expression is true (docs/expressions.md)");
  app.add_option("--count,-c", o.count, "stop after this many kept alerts (0: no limit)");
}

}  // namespace

void register_kafka_tool_commands(CommandRegistry& registry) {
  registry.describe_group("kafka", "Look at Kafka topics and groups, read alerts (kcat / fink-client style)");

  registry.add("kafka topics", "Topics with their partitions, leaders, low/high watermarks and message counts",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<Common>();
                 add_connection_options(app, o->brokers, o->properties);
                 app.add_option("--topic,-t", o->topics, "only these topics (repeatable; default: all)");
                 return [o] { return topics_command(*o); };
               });

  registry.add("kafka offsets", "A consumer group's committed offset and lag per partition",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<Common>();
                 add_connection_options(app, o->brokers, o->properties);
                 app.add_option("--group,-G", o->group, "the consumer group")->required();
                 app.add_option("--topic,-t", o->topics, "only these topics (default: those the group committed on)");
                 return [o] { return offsets_command(*o); };
               });

  registry.add("kafka consume",
               "Read alerts (optionally filtered) into JSON lines or Avro files; stops at the end of the topic",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<ConsumeOptions>();
                 auto properties = std::make_shared<std::vector<std::string>>();
                 add_consume_options(app, *o, *properties);
                 app.add_option("--from", o->from,
                                "earliest, latest or committed (default: committed with --group, else earliest)");
                 app.add_option("--output,-o", o->output_dir,
                                "folder for alerts.jsonl (--format json) or one .avro file per message");
                 app.add_option("--format", o->format, "json or avro")->capture_default_str();
                 app.add_option("--idle-timeout-s", o->idle_timeout_s, "stop when nothing arrives for this long")
                     ->capture_default_str();
                 return [o, properties] {
                   o->properties = property_map(*properties);
                   // Signals are taken between polls, so a run ends cleanly and commits.
                   const sigset_t signals = stop_signals();
                   pthread_sigmask(SIG_BLOCK, &signals, nullptr);
                   ConsumeCounts c = consume(*o);
                   json summary = {{"messages", c.messages}, {"alerts", c.alerts}, {"kept", c.kept},
                                   {"failed", c.failed}, {"files", c.files}};
                   // Alerts on stdout: the summary goes to stderr.
                   (o->output_dir.empty() ? std::cerr : std::cout) << summary.dump() << std::endl;
                   return c.failed ? exit_code::failed : exit_code::ok;
                 };
               });

  registry.add("kafka tail", "Follow a topic: one line per alert (time, object, position, band, magnitude) until SIGINT",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<ConsumeOptions>();
                 auto properties = std::make_shared<std::vector<std::string>>();
                 add_consume_options(app, *o, *properties);
                 app.add_option("--from", o->from, "latest (default), earliest or committed");
                 app.add_flag("--json", [o](int64_t) { o->format = "jsonl"; }, "whole alerts as JSON lines");
                 return [o, properties] {
                   o->properties = property_map(*properties);
                   o->follow = true;
                   const bool short_lines = o->format != "jsonl";
                   o->format = "json";
                   const sigset_t signals = stop_signals();
                   pthread_sigmask(SIG_BLOCK, &signals, nullptr);
                   consume(*o, short_lines);
                   return exit_code::ok;
                 };
               });

  registry.add("kafka reset-group", "Set a (stopped) consumer group's offsets to earliest, latest or a time",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto o = std::make_shared<Common>();
                 add_connection_options(app, o->brokers, o->properties);
                 app.add_option("--group,-G", o->group, "the consumer group")->required();
                 app.add_option("--topic,-t", o->topics, "topic (repeatable)")->required();
                 app.add_option("--to", o->to,
                                "earliest, latest, or a time: ISO 8601 UTC or milliseconds since 1970")
                     ->required();
                 return [o] { return reset_command(*o); };
               });
}

}  // namespace ebs::kafka
