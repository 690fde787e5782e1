// Test support for the exchange family's Kafka tests (header only, tests only): the embedded
// broker with the few actor types those workflows use (not every built-in family, so that the
// test builds and links only what it runs), a runner, and topics read back as JSON.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/replay.h"
#include "actors/exchange/exchange_actors.h"
#include "actors/ml/ml_actors.h"
#include "actors/sinks/jsonl_sink.h"
#include "actors/sinks/kafka/kafka_sink.h"
#include "actors/sources/files/avro_files_source.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/engine.h"
#include "test/support/kafka_test_support.h"

namespace ebs::test {

using nlohmann::json;

// The embedded broker with the actor types these workflows use (not every built-in family: the
// test builds and links only what it runs). Outputs go to Kafka topics, read back whole.
struct ExchangeFixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("ebs-exchange-" + std::to_string(::getpid()));
  ActorRegistry registry;
  kafka::EmbeddedBroker broker;

  ExchangeFixture() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    register_avro_files_source(registry);
    register_ml_actors(registry);
    register_kafka_sink(registry);
    register_jsonl_sink(registry);  // the run's dead-letter sink
    exchange::register_classifications(registry);
    exchange::register_consensus(registry);
    exchange::register_classification_source(registry);
    exchange::register_classification_join(registry);
  }
  ~ExchangeFixture() { std::filesystem::remove_all(dir); }

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

  void publish(const std::string& topic, const std::vector<std::string>& files) {
    kafka::ReplayOptions o;
    o.inputs = files;
    o.topic = topic;
    o.brokers = broker.bootstrap_servers();
    REQUIRE(kafka::replay(o).messages == files.size());
  }

  // Every record of a topic the kafka-sink wrote as JSON.
  std::vector<json> json_topic(const std::string& topic) {
    std::vector<json> out;
    for (const std::string& m : read_topic(broker.bootstrap_servers(), topic, 1)) out.push_back(json::parse(m));
    return out;
  }

  std::string sink(const std::string& id, const std::string& topic, const std::string& input) {
    broker.create_topic(topic, 1);
    return "  - id: " + id + "\n    type: kafka-sink\n    config: {topic: " + topic +
           ", format: json, with_raw: false, bootstrap.servers: \"" + broker.bootstrap_servers() + "\"}\n    inputs: [" +
           input + "]\n";
  }
};

}  // namespace ebs::test
