// kafka-sink Avro output through the embedded broker: real ZTF alerts published as Avro containers
// and as Confluent frames (schema registered in a loopback Confluent-compatible registry), read
// back by ebs_avro + the ebs-alert-1 profile, by the python3-avro oracle, and by a kafka source.
#include "actors/sinks/kafka/kafka_sink.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "actors/common/avro/alert_avro.h"
#include "actors/common/avro/schema_registration.h"
#include "actors/common/avro/decoder.h"
#include "actors/common/ingest/message_ingester.h"
#include "test/support/kafka_test_support.h"
#include "actors/common/kafka/replay.h"
#include "engine/model/record_json.h"
#include "engine/util/fault.h"
#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

namespace ebs {

namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ingest::MessageIngester ingester(std::shared_ptr<avro::SchemaRegistryClient> registry = nullptr) {
  return ingest::MessageIngester(avro::DecoderSources{std::make_shared<avro::SchemaCache>(), nullptr, std::move(registry)},
                                 profiles::ProfileSet::builtin());
}

// The ZTF alerts of the shared data as the engine ingests them, by alert id.
std::map<uint64_t, std::shared_ptr<const Alert>> ztf_alerts() {
  std::map<uint64_t, std::shared_ptr<const Alert>> out;
  auto in = ingester();
  for (const auto& e : fs::recursive_directory_iterator(test::data_dir() / "ztf")) {
    if (e.path().extension() != ".avro") continue;
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    in.ingest(std::make_shared<const std::string>(read_bytes(e.path())), e.path().string(), alerts, failures);
    REQUIRE(failures.empty());
    for (auto& r : alerts) {
      auto a = std::static_pointer_cast<const Alert>(r);
      out[a->core().alert_id] = a;
    }
  }
  return out;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// What survives the ebs.alert schema: every core field, the light curve, the cutouts.
void check_same_alert(const AlertCore& read, const AlertCore& original) {
  CHECK(read.alert_id == original.alert_id);
  CHECK(read.object_id == original.object_id);
  CHECK(read.schema_version == original.schema_version);
  CHECK(read.ra == original.ra);
  CHECK(read.dec == original.dec);
  CHECK(read.mjd_tai == original.mjd_tai);
  CHECK(read.band == original.band);
  CHECK(same(read.mag, original.mag));
  CHECK(same(read.mag_err, original.mag_err));
  CHECK(same(read.flux, original.flux));
  CHECK(same(read.flux_err, original.flux_err));
  CHECK(read.is_diff_pos == original.is_diff_pos);
  CHECK(same(read.real_bogus, original.real_bogus));
  REQUIRE(read.history.size() == original.history.size());
  for (size_t i = 0; i < read.history.size(); ++i) {
    const Photometry &r = read.history[i], &o = original.history[i];
    CHECK(r.kind == o.kind);
    CHECK(r.mjd_tai == o.mjd_tai);
    CHECK(r.band == o.band);
    CHECK(same(r.mag, o.mag));
    CHECK(same(r.flux, o.flux));
    CHECK(same(r.limit_mag, o.limit_mag));
    CHECK(r.is_diff_pos == o.is_diff_pos);
  }
  REQUIRE(read.cutouts.size() == original.cutouts.size());
  for (size_t i = 0; i < read.cutouts.size(); ++i) {
    CHECK(read.cutouts[i].kind == original.cutouts[i].kind);
    CHECK(read.cutouts[i].bytes == original.cutouts[i].bytes);
  }
}

// Writes each message to a file of `folder` for the python oracle.
void write_messages(const std::vector<std::string>& messages, const fs::path& folder) {
  fs::create_directories(folder);
  for (size_t i = 0; i < messages.size(); ++i) std::ofstream(folder / (std::to_string(i) + ".bin"), std::ios::binary) << messages[i];
}

// python3-avro reads every message (a container, or a Confluent frame whose schema it fetches
// from the registry) and prints the fields we compare.
const char* const kOracle = R"(
import sys, io, json, struct, glob, urllib.request
import avro.schema, avro.io, avro.datafile
folder, registry = sys.argv[1], sys.argv[2]
def summary(r):
    return {"alert_id": r["alert_id"], "object_id": r["object_id"], "survey": r["survey"], "ra": r["ra"],
            "dec": r["dec"], "mjd_tai": r["mjd_tai"], "mag": r["mag"], "flux": r["flux"], "band": r["band"],
            "history": len(r["history"]), "kinds": [p["kind"] for p in r["history"]],
            "science": len(r["cutout_science"] or b""), "raw": r["raw_json"] is not None}
for path in sorted(glob.glob(folder + "/*.bin")):
    data = open(path, "rb").read()
    if data[:4] == b"Obj\x01":
        reader = avro.datafile.DataFileReader(io.BytesIO(data), avro.io.DatumReader())
        assert json.loads(reader.meta["avro.schema"])["name"] == "alert"
        for r in reader: print(json.dumps(summary(r)))
    else:
        assert data[0] == 0, "magic byte"
        schema_id = struct.unpack(">I", data[1:5])[0]
        text = json.loads(urllib.request.urlopen(registry + "/schemas/ids/%d" % schema_id).read())["schema"]
        schema = avro.schema.parse(text)
        r = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))
        print(json.dumps(summary(r)))
)";

void check_oracle(const std::string& output, const std::map<uint64_t, std::shared_ptr<const Alert>>& expected,
                  bool with_raw) {
  size_t lines = 0;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    ++lines;
    auto it = expected.find(j["alert_id"].get<uint64_t>());
    REQUIRE(it != expected.end());
    const AlertCore& o = it->second->core();
    CHECK(j["object_id"] == o.object_id);
    CHECK(j["survey"] == "ZTF");
    CHECK(j["ra"].get<double>() == o.ra);
    CHECK(j["dec"].get<double>() == o.dec);
    CHECK(j["mjd_tai"].get<double>() == o.mjd_tai);
    CHECK(j["band"] == o.band);
    if (std::isnan(o.mag)) CHECK(j["mag"].is_null());
    else CHECK(j["mag"].get<double>() == o.mag);
    CHECK(j["history"].get<size_t>() == o.history.size());
    for (size_t i = 0; i < o.history.size(); ++i) CHECK(j["kinds"][i] == to_string(o.history[i].kind));
    size_t science = 0;
    for (const Cutout& c : o.cutouts) if (c.kind == Cutout::Kind::science) science = c.bytes.size();
    CHECK(j["science"].get<size_t>() == science);
    CHECK(j["raw"].get<bool>() == with_raw);
  }
  CHECK(lines == expected.size());
}

// A Confluent-compatible schema registry on loopback (cpp-httplib): registering stores the schema
// and answers its id (the same id for the same schema, as the real one does); ids answer schemas.
class LoopbackRegistry {
 public:
  LoopbackRegistry() {
    server_.Post(R"(/subjects/([^/]+)/versions)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      ++registrations;
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.contains("schema")) {
        res.status = 422;
        res.set_content(R"({"error_code": 42201, "message": "Invalid schema"})", "application/json");
        return;
      }
      std::string schema = body["schema"];
      subjects.insert(req.matches[1]);
      uint32_t id = 0;
      for (const auto& [known, text] : schemas) if (text == schema) id = known;
      if (id == 0) schemas[id = 41 + static_cast<uint32_t>(schemas.size())] = schema;
      res.set_content(nlohmann::json{{"id", id}}.dump(), "application/vnd.schemaregistry.v1+json");
    });
    server_.Get(R"(/schemas/ids/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      auto it = schemas.find(static_cast<uint32_t>(std::stoul(req.matches[1])));
      if (it == schemas.end()) {
        res.status = 404;
        res.set_content(R"({"error_code": 40403, "message": "Schema not found"})", "application/json");
        return;
      }
      res.set_content(nlohmann::json{{"schema", it->second}}.dump(), "application/vnd.schemaregistry.v1+json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LoopbackRegistry() {
    for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  int registrations = 0;
  std::set<std::string> subjects;
  std::map<uint32_t, std::string> schemas;

 private:
  std::mutex mutex_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string sink_workflow(const std::string& topic, const std::string& sink_config, const std::string& bootstrap) {
  return R"(
name: avro-out
actors:
  - id: src
    type: avro-files
    config: {path: ")" + (test::data_dir() / "ztf").string() + R"("}
  - id: out
    type: kafka-sink
    inputs: [src.alerts]
    config: {topic: )" + topic + ", " + sink_config + R"(, bootstrap.servers: ")" + bootstrap + R"("}
)";
}

}  // namespace

TEST_CASE("kafka-sink format avro: one Avro container per alert; ebs_avro, python3-avro and a kafka source read it back") {
  test::KafkaFixture f;
  f.broker.create_topic("ebs-avro", 4);  // 86 x ~70 KB: well below the mock broker's 5 MiB per partition
  auto expected = ztf_alerts();
  REQUIRE(expected.size() == 86);
  RunResult r = f.run(sink_workflow("ebs-avro", "format: avro, with_raw: true", f.broker.bootstrap_servers()));
  REQUIRE(r.accounting_ok);
  CHECK(r.find("out")->forwarded == 86);

  std::vector<std::string> messages = test::read_topic(f.broker.bootstrap_servers(), "ebs-avro", 4);
  REQUIRE(messages.size() == 86);
  // Our decoder picks the ebs-alert-1 profile by the writer schema inside each container.
  auto in = ingester();
  std::set<uint64_t> seen;
  for (const std::string& m : messages) {
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    in.ingest(std::make_shared<const std::string>(m), "ebs-avro", alerts, failures);
    REQUIRE(failures.empty());
    REQUIRE(alerts.size() == 1);
    const auto& alert = static_cast<const Alert&>(*alerts[0]);
    CHECK(alert.core().survey == "ebs-flow");
    CHECK(alert.core().raw.path("survey").as_string().value_or("") == "ZTF");
    CHECK(alert.core().raw.path("raw_json").as_string().value_or("").find("\"candidate\"") != std::string_view::npos);
    REQUIRE(expected.count(alert.core().alert_id));
    check_same_alert(alert.core(), expected.at(alert.core().alert_id)->core());
    seen.insert(alert.core().alert_id);
  }
  CHECK(seen.size() == 86);

  write_messages(messages, f.dir / "avro");
  check_oracle(test::run_python_oracle(kOracle, {(f.dir / "avro").string(), "-"}), expected, true);

  // The stream ebs-flow wrote is an input ebs-flow reads: kafka source -> jsonl.
  RunResult back = f.run(R"(
name: read-back
actors:
  - id: src
    type: kafka
    config: {topics: [ebs-avro], assign: true, stop_at_end: true, bootstrap.servers: ")" + f.broker.bootstrap_servers() + R"("}
  - id: out
    type: jsonl
    inputs: [src.alerts]
    config: {path: back.jsonl, with_raw: false}
)");
  REQUIRE(back.accounting_ok);
  CHECK(back.find("src")->forwarded == 86);
  std::ifstream lines(f.dir / "back.jsonl");
  size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    auto alert = alert_from_json(nlohmann::json::parse(line), "back.jsonl");
    REQUIRE(expected.count(alert->core().alert_id));
    const AlertCore& o = expected.at(alert->core().alert_id)->core();
    CHECK(alert->core().object_id == o.object_id);
    CHECK(alert->core().mjd_tai == o.mjd_tai);
    CHECK(alert->core().ra == o.ra);
    CHECK(alert->core().history.size() == o.history.size());
  }
  CHECK(n == 86);
}

TEST_CASE("kafka-sink format avro-confluent: schema registered once as <topic>-value, frames carry its id") {
  test::KafkaFixture f;
  LoopbackRegistry registry;
  f.broker.create_topic("ebs-frames", 4);
  auto expected = ztf_alerts();
  RunResult r = f.run(sink_workflow("ebs-frames", "format: avro-confluent, with_raw: false, registry: " + registry.url(),
                                    f.broker.bootstrap_servers()));
  REQUIRE(r.accounting_ok);
  CHECK(r.find("out")->forwarded == 86);
  CHECK(registry.registrations == 1);  // the id is cached by the sink
  CHECK(registry.subjects == std::set<std::string>{"ebs-frames-value"});
  REQUIRE(registry.schemas.size() == 1);
  CHECK(registry.schemas.begin()->second == std::string(kafka::alert_avro_schema()));

  std::vector<std::string> messages = test::read_topic(f.broker.bootstrap_servers(), "ebs-frames", 4);
  REQUIRE(messages.size() == 86);
  auto in = ingester(std::make_shared<avro::SchemaRegistryClient>(registry.url()));
  for (const std::string& m : messages) {
    REQUIRE(m.size() > 5);
    CHECK(m[0] == 0);
    CHECK(m.substr(1, 4) == std::string("\0\0\0\x29", 4));  // id 41, big-endian
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    in.ingest(std::make_shared<const std::string>(m), "ebs-frames", alerts, failures);
    REQUIRE(failures.empty());
    REQUIRE(alerts.size() == 1);
    const auto& alert = static_cast<const Alert&>(*alerts[0]);
    check_same_alert(alert.core(), expected.at(alert.core().alert_id)->core());
    CHECK(alert.core().raw.path("raw_json").is_null());
  }
  write_messages(messages, f.dir / "frames");
  check_oracle(test::run_python_oracle(kOracle, {(f.dir / "frames").string(), registry.url()}), expected, false);

  // The same schema registered again gets the same id (what a restarted sink relies on).
  CHECK(kafka::register_schema(registry.url(), "ebs-frames-value", std::string(kafka::alert_avro_schema())) == 41);
}

TEST_CASE("kafka-sink avro-confluent with a registry that does not answer: dead letters, the run goes on") {
  test::KafkaFixture f;
  f.broker.create_topic("nowhere", 1);
  std::string yaml = sink_workflow("nowhere", "format: avro-confluent, registry: \"http://127.0.0.1:1\"", f.broker.bootstrap_servers());
  yaml.replace(yaml.find("actors:"), 7, "dead_letters: dead.jsonl\nactors:");
  RunResult r = f.run(yaml);
  REQUIRE(r.accounting_ok);
  CHECK(r.find("out")->failed == 86);
  std::ifstream in(f.dir / "dead.jsonl");
  std::string line;
  REQUIRE(std::getline(in, line));
  auto letter = nlohmann::json::parse(line);
  CHECK(letter["kind"] == "disconnected");
  CHECK(letter["reason"].get<std::string>().find("schema registry unreachable") != std::string::npos);
  CHECK(letter["place"].get<std::string>().starts_with("http://127.0.0.1:1/subjects/nowhere-value/versions"));
}

TEST_CASE("kafka-sink config is checked: format, codec, avro-confluent without registry") {
  test::KafkaFixture f;
  auto problems_of = [&](const std::string& config) {
    std::vector<Problem> problems;
    auto doc = parse_workflow_text(sink_workflow("t", config, "127.0.0.1:9"), (f.dir / "wf.yaml").string(), problems);
    REQUIRE(doc);
    build_workflow(*doc, f.registry, problems);
    std::string all;
    for (const Problem& p : problems) all += format_problem(p) + "\n";
    return all;
  };
  CHECK(problems_of("format: avro").empty());
  CHECK(problems_of("format: xml").find("format must be json, avro, avro-confluent or elasticc, not 'xml'") != std::string::npos);
  CHECK(problems_of("format: avro-confluent").find("needs registry") != std::string::npos);
  CHECK(problems_of("format: avro, codec: lz4").find("codec must be null, deflate or snappy") != std::string::npos);
}

TEST_CASE("AlertAvroEncoder: deflate and snappy containers decode to the same alert") {
  auto expected = ztf_alerts();
  const Alert& original = *expected.begin()->second;
  for (const char* codec : {"null", "deflate", "snappy"}) {
    kafka::AlertAvroEncoder encoder({false, codec});
    std::string container = encoder.container(original);
    auto in = ingester();
    std::vector<RecordPtr> alerts;
    std::vector<ingest::IngestFailure> failures;
    in.ingest(std::make_shared<const std::string>(container), codec, alerts, failures);
    REQUIRE(failures.empty());
    REQUIRE(alerts.size() == 1);
    check_same_alert(static_cast<const Alert&>(*alerts[0]).core(), original.core());
  }
}

}  // namespace ebs
