// kafka_bench: alerts/s of decode alone and decode + profile (ZTF, Rubin), one core, same run;
// the kafka sink's encodings (JSON, Avro container, Avro datum) per core; then Kafka source ->
// Kafka sink through the embedded broker, JSON and Avro output side by side. Prints one JSON line
// per figure.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/common/avro/alert_avro.h"
#include "actors/common/ingest/message_ingester.h"
#include "actors/common/avro/decoder.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/kafka/replay.h"
#include "app/builtin_modules.h"
#include "actors/common/profiles/profile_set.h"
#include "engine/graph/workflow.h"
#include "engine/model/record_json.h"
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

struct RoundTrip {
  uint64_t published = 0, delivered = 0;
  double seconds = 0;
  bool accounting_ok = false;
};

// A run of kafka source (2 instances) -> kafka sink in `format` over `copies` x the ZTF alerts
// (16 partitions keep each below the mock broker's ~5 MiB). The time includes the run's start-up
// and end detection (~0.5 s): enough alerts make it small.
RoundTrip kafka_round_trip(size_t copies, const std::string& format) {
  ebs::kafka::EmbeddedBroker broker;
  broker.create_topic("in", 16);
  broker.create_topic("out", 16);
  RoundTrip result;
  ebs::kafka::ReplayOptions replay;
  for (size_t i = 0; i < copies; ++i) replay.inputs.push_back((data_dir() / "ztf").string());
  replay.topic = "in";
  replay.brokers = broker.bootstrap_servers();
  result.published = ebs::kafka::replay(replay).messages;

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
    config: {topic: out, format: )" + format + R"(, with_raw: false, bootstrap.servers: ")" + broker.bootstrap_servers() + R"("}
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
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.delivered = r.find("out") ? r.find("out")->forwarded : 0;
  result.accounting_ok = r.accounting_ok;
  return result;
}

// Source -> sink alerts/s for `format`.
double kafka_throughput(const std::string& format, size_t copies) {
  RoundTrip t = kafka_round_trip(copies, format);
  std::printf("{\"figure\":\"kafka source -> kafka sink (embedded broker, 2 consumers, 16 partitions)\",\"format\":\"%s\","
              "\"messages\":%llu,\"delivered\":%llu,\"seconds\":%.2f,\"alerts_per_s\":%.0f,\"accounting_ok\":%s}\n",
              format.c_str(), static_cast<unsigned long long>(t.published), static_cast<unsigned long long>(t.delivered),
              t.seconds, t.delivered / t.seconds, t.accounting_ok ? "true" : "false");
  return t.delivered / t.seconds;
}

// The sink's encoding alone, per core: record JSON (what format json sends) against libavro's
// Avro container (format avro) and datum (the body of an avro-confluent frame), same alerts.
void sink_encoding(const fs::path& folder) {
  auto ingester = ebs::ingest::MessageIngester(
      ebs::avro::DecoderSources{std::make_shared<ebs::avro::SchemaCache>(), nullptr, nullptr},
      ebs::profiles::ProfileSet::builtin());
  std::vector<ebs::RecordPtr> alerts;
  std::vector<ebs::ingest::IngestFailure> failures;
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    if (e.path().extension() != ".avro") continue;
    std::ifstream in(e.path(), std::ios::binary);
    auto bytes = std::make_shared<const std::string>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ingester.ingest(bytes, e.path().string(), alerts, failures);
  }
  ebs::kafka::AlertAvroEncoder encoder({false, "null"});
  ebs::JsonOptions json_options;
  json_options.with_raw = false;
  auto rate = [&](auto&& encode) {
    size_t bytes = 0, n = 0;
    auto start = Clock::now();
    while (Clock::now() - start < std::chrono::milliseconds(700))
      for (const auto& a : alerts) bytes += encode(static_cast<const ebs::Alert&>(*a)).size(), ++n;
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return std::pair<double, double>(n / seconds, static_cast<double>(bytes) / n);
  };
  auto json = rate([&](const ebs::Alert& a) { return ebs::to_json(a, json_options).dump(); });
  json_options.with_bytes = true;  // the cutouts too, as Avro always carries them
  auto json_bytes = rate([&](const ebs::Alert& a) { return ebs::to_json(a, json_options).dump(); });
  auto container = rate([&](const ebs::Alert& a) { return encoder.container(a); });
  auto datum = rate([&](const ebs::Alert& a) { return encoder.datum(a); });
  std::printf("{\"figure\":\"kafka-sink encoding per core (ZTF, %zu alerts, no raw)\",\"json_alerts_per_s\":%.0f,"
              "\"json_bytes\":%.0f,\"json_with_cutouts_alerts_per_s\":%.0f,\"json_with_cutouts_bytes\":%.0f,\"avro_container_alerts_per_s\":%.0f,\"avro_container_bytes\":%.0f,"
              "\"avro_datum_alerts_per_s\":%.0f,\"avro_datum_bytes\":%.0f,\"container_vs_json_with_cutouts\":%.2f,\"datum_vs_json_with_cutouts\":%.2f}\n",
              alerts.size(), json.first, json.second, json_bytes.first, json_bytes.second, container.first, container.second, datum.first, datum.second,
              container.first / json_bytes.first, datum.first / json_bytes.first);
}

}  // namespace

int main() {
  decode_and_profile("ZTF", data_dir() / "ztf");
  decode_and_profile("Rubin", data_dir() / "lsst/rubin-lsstcam-v9-spark");
  sink_encoding(data_dir() / "ztf");
  // 6 x 86 ZTF alerts (36 MB, ~2.3 MB per partition: 8 x lost some to the mock broker's 5 MiB).
  double json = kafka_throughput("json", 6);
  double avro = kafka_throughput("avro", 6);
  std::printf("{\"figure\":\"kafka source -> kafka sink, avro vs json (same run)\",\"json_alerts_per_s\":%.0f,"
              "\"avro_alerts_per_s\":%.0f,\"ratio\":%.2f}\n", json, avro, avro / json);
}
