// Test support for Kafka tests (header only, tests only): an embedded broker with the built-in
// actors and a scratch folder, a workflow runner, and a reader of a whole topic.
#pragma once

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "app/builtin_modules.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/replay.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/engine.h"

namespace ebs::test {

struct KafkaFixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ebs-kafka-" + std::to_string(::getpid()));
  ActorRegistry registry;
  kafka::EmbeddedBroker broker;

  KafkaFixture() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    register_builtin_actors(registry);
  }
  ~KafkaFixture() { std::filesystem::remove_all(dir); }

  RunResult run(const std::string& yaml) {
    std::vector<Problem> problems;
    auto doc = parse_workflow_text(yaml, (dir / "wf.yaml").string(), problems);
    REQUIRE(doc);
    auto wf = build_workflow(*doc, registry, problems);
    for (const Problem& p : problems) MESSAGE(format_problem(p));
    REQUIRE(wf);
    RunOptions options;
    options.run_dir = dir.string();
    options.handle_signals = false;
    options.threads = 2;
    RunResult r = run_workflow(*wf, registry, options);
    for (const std::string& e : r.errors) MESSAGE(e);
    return r;
  }

  kafka::ReplayCounts publish(const std::string& topic, const std::vector<std::string>& inputs) {
    kafka::ReplayOptions o;
    o.inputs = inputs;
    o.topic = topic;
    o.brokers = broker.bootstrap_servers();
    return kafka::replay(o);
  }
};

// Every message of a topic, read to the end of each partition (or until `limit` passed), in the
// order they come: `each(partition, offset, value)`, or `each(partition, offset, value, key)` (key ""
// when the message has none). Returns how many partitions were read to their end.
template <class Each>
int read_topic_messages(const std::string& bootstrap, const std::string& topic, int partitions, Each each,
                        std::chrono::seconds limit = std::chrono::seconds(20)) {
  rd_kafka_conf_t* conf = kafka::make_conf({{"bootstrap.servers", bootstrap}, {"group.id", "reader"},
                                            {"enable.partition.eof", "true"}, {"enable.auto.commit", "false"}},
                                           "reader");
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  REQUIRE(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::set<int> ended;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (static_cast<int>(ended.size()) < partitions && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) ended.insert(m->partition);
    else if (!m->err) {
      std::string value(static_cast<const char*>(m->payload), m->len);
      if constexpr (std::is_invocable_v<Each, int, int64_t, std::string, std::string>)
        each(m->partition, m->offset, std::move(value),
             m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : std::string());
      else
        each(m->partition, m->offset, std::move(value));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return static_cast<int>(ended.size());
}

// Every value of a topic, read to the end of each partition.
inline std::vector<std::string> read_topic(const std::string& bootstrap, const std::string& topic, int partitions) {
  std::vector<std::string> values;
  read_topic_messages(bootstrap, topic, partitions, [&](int, int64_t, std::string value) { values.push_back(std::move(value)); });
  return values;
}

// One of an actor's own counters (ActorCounters: a Kafka source's `messages_viewed`, ...) from a
// run's totals; a missing actor or counter fails the test.
inline uint64_t actor_counter(const RunResult& r, const std::string& actor, const std::string& name) {
  const ActorTotals* a = r.find(actor);
  REQUIRE_MESSAGE(a, "no actor " << actor);
  auto it = a->counters.find(name);
  REQUIRE_MESSAGE(it != a->counters.end(), "no counter " << name);
  return it->second;
}

}  // namespace ebs::test
