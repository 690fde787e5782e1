// kafka_bench: alerts/s of decode alone and decode + profile (ZTF, Rubin), one core, same run;
// then Kafka source -> Kafka sink through the embedded broker. Prints one JSON line per figure.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/builtin.h"
#include "actors/sources/avro/decoder.h"
#include "actors/sources/kafka/ingestion.h"
#include "actors/sources/kafka/kafka_client.h"
#include "actors/sources/kafka/replay.h"
#include "actors/sources/profiles/profile_set.h"
#include "engine/graph/workflow.h"
#include "engine/runtime/engine.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

fs::path data_dir() {
  const char* env = std::getenv("EBS_TEST_DATA");
  return env && *env ? fs::path(env) : fs::path(EBS_DEFAULT_TEST_DATA);
}

std::vector<std::shared_ptr<const std::string>> messages(const fs::path& dir) {
  std::vector<std::shared_ptr<const std::string>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".avro") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    out.push_back(std::make_shared<const std::string>(s.str()));
  }
  return out;
}

// Alerts per second over at least `seconds`.
template <class F>
double rate(size_t per_pass, double seconds, F pass) {
  size_t n = 0;
  auto start = Clock::now();
  double elapsed = 0;
  do {
    pass();
    n += per_pass;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  return n / elapsed;
}

void decode_and_profile(const char* survey, const fs::path& dir) {
  auto input = messages(dir);
  ebs::avro::Decoder decoder;
  ebs::profiles::ProfileSet profiles = ebs::profiles::ProfileSet::builtin();
  std::vector<ebs::RawRecord> records;
  size_t alerts = 0;
  auto decode_only = [&] {
    for (const auto& m : input) {
      records.clear();
      decoder.decode(m, "bench", records);
    }
  };
  auto decode_map = [&] {
    for (const auto& m : input) {
      records.clear();
      decoder.decode(m, "bench", records);
      for (auto& r : records) alerts += profiles.map(std::move(r), m, "bench") != nullptr;
    }
  };
  decode_only();
  decode_map();
  // Alternate to share the machine's noise between the two.
  double d = 0, dp = 0;
  for (int round = 0; round < 3; ++round) {
    d = std::max(d, rate(input.size(), 0.5, decode_only));
    dp = std::max(dp, rate(input.size(), 0.5, decode_map));
  }
  std::printf("{\"figure\":\"decode+profile\",\"survey\":\"%s\",\"alerts\":%zu,\"decode_alerts_per_s\":%.0f,"
              "\"decode_profile_alerts_per_s\":%.0f,\"profile_us_per_alert\":%.2f,\"ratio\":%.3f}\n",
              survey, input.size(), d, dp, 1e6 / dp - 1e6 / d, dp / d);
}

void kafka_round_trip(size_t copies) {
  ebs::kafka::EmbeddedBroker broker;
  broker.create_topic("in", 8);
  broker.create_topic("out", 8);
  ebs::kafka::ReplayOptions replay;
  for (size_t i = 0; i < copies; ++i) replay.inputs.push_back((data_dir() / "ztf").string());
  replay.topic = "in";
  replay.brokers = broker.bootstrap_servers();
  auto published = ebs::kafka::replay(replay);

  ebs::ActorRegistry registry;
  ebs::register_builtin_actors(registry);
  std::string yaml = R"(
name: kafka-bench
actors:
  - id: src
    type: kafka
    parallelism: 2
    config: {topics: [in], assign: true, stop_at_end: true, bootstrap.servers: ")" + broker.bootstrap_servers() + R"("}
  - id: out
    type: kafka-sink
    inputs: [src.alerts]
    config: {topic: out, with_raw: false, bootstrap.servers: ")" + broker.bootstrap_servers() + R"("}
)";
  std::vector<ebs::Problem> problems;
  auto doc = ebs::parse_workflow_text(yaml, "bench.yaml", problems);
  auto wf = ebs::build_workflow(*doc, registry, problems);
  for (const auto& p : problems) std::fprintf(stderr, "%s\n", ebs::format_problem(p).c_str());
  ebs::RunOptions options;
  options.handle_signals = false;
  options.run_dir = fs::temp_directory_path().string();
  auto start = Clock::now();
  ebs::RunResult r = ebs::run_workflow(*wf, registry, options);
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"figure\":\"kafka source -> kafka sink (embedded broker, 2 consumers, 8 partitions)\","
              "\"messages\":%llu,\"delivered\":%llu,\"seconds\":%.2f,\"alerts_per_s\":%.0f,\"accounting_ok\":%s}\n",
              static_cast<unsigned long long>(published.messages),
              static_cast<unsigned long long>(r.find("out") ? r.find("out")->forwarded : 0), elapsed,
              (r.find("out") ? r.find("out")->forwarded : 0) / elapsed, r.accounting_ok ? "true" : "false");
}

}  // namespace

int main() {
  decode_and_profile("ZTF", data_dir() / "ztf");
  decode_and_profile("Rubin", data_dir() / "lsst/rubin-lsstcam-v9-spark");
  // 3 x 86 ZTF alerts (18 MB): within the mock broker's ~5 MiB per partition over 8 partitions.
  kafka_round_trip(3);
}
