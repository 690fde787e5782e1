// Issue 18, the filter service through the binary (docs/filters.md): `ebs-flow run --http` with a
// `filters` actor over a registry, real ZTF alerts, the embedded Kafka broker and a webhook that
// never answers. Two users' filters each fill only their own topic; an update mid-stream takes
// effect at a batch boundary with no alert lost or repeated (counted per version); tokens are
// checked (401, 403); the hanging webhook pauses its filter only. And 1,000 generated filters run.
#include <doctest/doctest.h>
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "actors/common/filter_registry/filter_registry.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/repository/alert_query.h"
#include "actors/common/repository/reader.h"
#include "actors/transforms/generated_filters.h"
#include "engine/util/base64.h"
#include "engine/expr/alert_field.h"
#include "engine/expr/program.h"
#include "test/support/child_process.h"
#include "test/support/cluster_script.h"
#include "test/support/kafka_offsets.h"
#include "test/support/kafka_test_support.h"
#include "test/support/python_oracle.h"
#include "test/support/recording_webhook.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using namespace ebs::filter_registry;
using ebs::test::RecordingWebhook;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string ebs_flow() { return (test::binary_dir() / "ebs-flow").string(); }

std::string read_text(const fs::path& path) { return test::read_file(path); }

template <typename T>
T ok(Answer<T> answer) {
  if (auto* refusal = std::get_if<Refusal>(&answer)) FAIL("refused: " << refusal->message);
  return std::get<T>(std::move(answer));
}

// Whether `where` passes each alert, by alert id: the single-filter answer.
std::map<std::string, bool> answers(const std::string& where, const std::vector<std::shared_ptr<const Alert>>& alerts) {
  expr::Program program = std::get<expr::Program>(expr::Program::compile(where));
  std::vector<AlertField> fields;
  for (const std::string& f : program.fields()) fields.push_back(compile_alert_field(f));
  std::map<std::string, bool> out;
  std::vector<expr::Value> values(fields.size());
  for (const auto& a : alerts) {
    for (size_t i = 0; i < fields.size(); ++i) values[i] = fields[i](*a);
    out[std::to_string(a->core().alert_id)] = program.test(values);
  }
  return out;
}

std::string alert_id_of(const json& alert) {
  const json& id = alert.at("alert_id");
  return id.is_string() ? id.get<std::string>() : std::to_string(id.get<int64_t>());
}

// A Confluent-compatible schema registry on loopback: registering a schema answers its id (the
// same id for the same schema); GET /schemas/ids/ID answers the schema.
struct LoopbackRegistry {
  httplib::Server server;
  std::thread thread;
  std::mutex mutex;
  std::map<uint32_t, std::string> schemas;
  std::set<std::string> subjects;
  int port = 0;
  LoopbackRegistry() {
    server.Post(R"(/subjects/([^/]+)/versions)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      std::string schema = json::parse(req.body)["schema"];
      subjects.insert(req.matches[1]);
      uint32_t id = 0;
      for (const auto& [known, text] : schemas)
        if (text == schema) id = known;
      if (id == 0) schemas[id = 70 + static_cast<uint32_t>(schemas.size())] = schema;
      res.set_content(json{{"id", id}}.dump(), "application/vnd.schemaregistry.v1+json");
    });
    server.Get(R"(/schemas/ids/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      auto it = schemas.find(static_cast<uint32_t>(std::stoul(req.matches[1])));
      if (it == schemas.end()) {
        res.status = 404;
        return;
      }
      res.set_content(json{{"schema", it->second}}.dump(), "application/vnd.schemaregistry.v1+json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~LoopbackRegistry() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// The dashboard's URL (no trailing '/') that `run --http` printed to `out` (its stdout), once printed.
std::string dashboard_url(const fs::path& out) {
  std::string url;
  REQUIRE(test::wait_until([&] {
    std::string text = read_text(out);
    auto at = text.find("\"dashboard\":\"");
    if (at == std::string::npos) return false;
    url = text.substr(at + 13, text.find('"', at + 13) - at - 13);
    return true;
  }, std::chrono::seconds(30)));
  while (url.ends_with("/")) url.pop_back();
  return url;
}

// The URL `serve` printed to `out` (its stdout, the first line: {"serving": URL}), once printed.
std::string serving_url(const fs::path& out) {
  std::string url;
  REQUIRE(test::wait_until([&] {
    std::string text = read_text(out);
    if (text.find('\n') == std::string::npos) return false;
    url = json::parse(text.substr(0, text.find('\n')))["serving"];
    return true;
  }, std::chrono::seconds(30)));
  return url;
}

// The order a run's `seen` sink (jsonl, seen.jsonl in the run directory) wrote the real ZTF alerts
// in — the source's — and those alerts, one each.
struct SourceOrder {
  std::vector<std::string> ids;
  std::vector<std::shared_ptr<const Alert>> alerts;
};
SourceOrder source_order(const fs::path& run_dir) {
  SourceOrder out;
  std::istringstream seen(read_text(run_dir / "seen.jsonl"));
  for (std::string line; std::getline(seen, line);) out.ids.push_back(alert_id_of(json::parse(line)));
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : test::ztf_alerts(folder)) out.alerts.push_back(a);
  REQUIRE(out.ids.size() == out.alerts.size());
  return out;
}

}  // namespace

TEST_CASE("two users' filters on real ZTF alerts: own topics, an update mid-stream, 401/403, a hanging webhook") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filter-service-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  kafka::EmbeddedBroker broker;
  for (const char* topic : {"alice-bright", "bob-young", "bob-young-avro", "bob-young-confluent", "filter-service-kept"})
    broker.create_topic(topic, 1);
  RecordingWebhook hook({.gated = true});  // never answers (until the test ends)
  LoopbackRegistry schema_registry;

  const std::string store_path = (dir / "filters.sqlite").string();
  std::string root_token, alice_token, bob_token;
  int64_t alice_id = 0, bob_id = 0, carol_id = 0;
  const std::string alice_v1 = "mag < 18.5", alice_v2 = "mag >= 18.5 or mag < 16";
  const std::string bob_where = "n_detections <= 3 and candidate.drb > 0.5";
  {
    FilterRegistry store(store_path);
    Limits generous;
    generous.max_alerts_per_second = 10000;
    ok(store.create_user("root", true, generous));
    root_token = ok(store.issue_token("root", false));
    User alice = ok(store.create_user("alice", false, generous));
    User bob = ok(store.create_user("bob", false, generous));
    User carol = ok(store.create_user("carol", false, generous));
    alice_token = ok(store.issue_token("alice", false));
    bob_token = ok(store.issue_token("bob", false));
    alice_id = ok(store.create_filter(alice, "bright", alice_v1, {{Output::Kind::kafka, "alice-bright"}})).id;
    bob_id = ok(store.create_filter(bob, "young", bob_where,
                                    {{Output::Kind::kafka, "bob-young"}, {Output::Kind::kafka, "bob-young-avro", "avro"},
                                     {Output::Kind::kafka, "bob-young-confluent", "avro-confluent"}}))
                 .id;
    carol_id = ok(store.create_filter(carol, "all", "mag > 0",
                                      {{Output::Kind::webhook, hook.url()}}))
                   .id;
  }
  std::ofstream(dir / "wf.yaml") << "name: filter-service\nactors:\n"
                                    "  - id: src\n    type: avro-files\n    rate: 25\n"
                                    "    config: {path: \"" << (test::data_dir() / "ztf").string() << "\"}\n"
                                    "  - id: users\n    type: filters\n    inputs: [src.alerts]\n"
                                    "    config: {registry: filters.sqlite, brokers: \"" << broker.bootstrap_servers()
                                 << "\", output_timeout_ms: 2500, schema_registry: \"" << schema_registry.url() << "\"}\n"
                                    "  - id: seen\n    type: jsonl\n    inputs: [src.alerts]\n"
                                    "    config: {path: seen.jsonl, with_raw: false, fsync: false}\n"
                                    "  - id: kept\n    type: count\n    inputs: [users.out]\n"
                                    // The workflow's own topic: refused to the users' filters.
                                    "  - id: published\n    type: kafka-sink\n    inputs: [users.out]\n"
                                    "    config: {topic: filter-service-kept, bootstrap.servers: \""
                                 << broker.bootstrap_servers() << "\"}\n";
  test::Child run(ebs_flow() + " run wf.yaml --quiet --run-dir run --http 127.0.0.1:0", dir, dir / "out.txt", dir / "err.txt");
  const std::string url = dashboard_url(dir / "out.txt");
  httplib::Client client(url);
  auto as = [](const std::string& token) { return httplib::Headers{{"Authorization", "Bearer " + token}}; };
  // The API serves the run's store once the run has started (404 until then).
  REQUIRE(test::wait_until([&] {
    auto r = client.Get("/api/filters", as(root_token));
    return r && r->status == 200;
  }, std::chrono::seconds(30)));

  // Tokens: none or a wrong one is 401; another user's filter is 403, to read and to change.
  CHECK(client.Get("/api/filters")->status == 401);
  CHECK(client.Get("/api/filters", as("ebs_not_a_token"))->status == 401);
  CHECK(client.Get("/api/filters/" + std::to_string(bob_id), as(alice_token))->status == 403);
  CHECK(client.Put("/api/filters/" + std::to_string(bob_id), as(alice_token), R"({"where": "mag < 1"})", "application/json")->status == 403);
  CHECK(client.Delete("/api/filters/" + std::to_string(bob_id), as(alice_token))->status == 403);
  CHECK(client.Post("/api/users", as(alice_token), R"({"name": "eve"})", "application/json")->status == 403);
  json bobs = json::parse(client.Get("/api/filters", as(bob_token))->body);
  REQUIRE(bobs.size() == 1);
  CHECK(bobs[0]["name"] == "young");
  CHECK(json::parse(client.Get("/api/filters", as(root_token))->body).size() == 3);
  // An admin creates a user and issues their token, shown once.
  CHECK(client.Post("/api/users", as(root_token), R"({"name": "dave"})", "application/json")->status == 201);
  auto issued = client.Post("/api/users/dave/tokens", as(root_token), "{}", "application/json");
  REQUIRE(issued->status == 201);
  std::string dave_token = json::parse(issued->body)["token"];
  CHECK(json::parse(client.Get("/api/filters", as(dave_token))->body).empty());
  // A refusal says why: an expression that does not compile.
  auto bad = client.Post("/api/filters", as(dave_token), R"({"name": "x", "where": "mag <", "outputs": [{"kind": "kafka", "target": "dave"}]})",
                         "application/json");
  CHECK(bad->status == 400);
  CHECK(bad->body.find("does not compile") != std::string::npos);
  // Topics (docs/filters.md, "Topics"): bob's is refused to dave, with the topic named and not its
  // owner; so is alice's filter changed to one of his, and the topic the workflow's kafka-sink writes
  // (reserved when the `filters` actor opened); `filters add` shows the refusal.
  auto stolen = client.Post("/api/filters", as(dave_token),
                            R"({"name": "x", "where": "mag < 18", "outputs": [{"kind": "kafka", "target": "bob-young"}]})",
                            "application/json");
  CHECK(stolen->status == 403);
  CHECK(json::parse(stolen->body)["error"] == "the Kafka topic 'bob-young' belongs to another user: choose another topic");
  CHECK(client.Put("/api/filters/" + std::to_string(alice_id), as(alice_token),
                   R"({"outputs": [{"kind": "kafka", "target": "bob-young-avro", "format": "avro"}]})", "application/json")
            ->status == 403);
  auto workflows = client.Post("/api/filters", as(dave_token),
                               R"({"name": "x", "where": "mag < 18", "outputs": [{"kind": "kafka", "target": "filter-service-kept"}]})",
                               "application/json");
  CHECK(workflows->status == 403);
  CHECK(json::parse(workflows->body)["error"] ==
        "the Kafka topic 'filter-service-kept' is used by the workflow itself (workflow 'filter-service'): a filter "
        "cannot publish to it; choose another topic");
  test::CommandResult refused_add = test::run_command(ebs_flow() + " filters add x 'mag < 18' --kafka bob-young --url " +
                                                          url + " --token " + dave_token, dir);
  CHECK(refused_add.exit_code != 0);
  CHECK(refused_add.err.find("HTTP 403") != std::string::npos);
  CHECK(refused_add.err.find("the Kafka topic 'bob-young' belongs to another user") != std::string::npos);
  CHECK(json::parse(client.Get("/api/filters", as(dave_token))->body).empty());

  // The update, once part of the stream has gone by.
  REQUIRE(test::wait_until([&] {
    std::string seen = read_text(dir / "run" / "seen.jsonl");
    return std::count(seen.begin(), seen.end(), '\n') >= 25;
  }, std::chrono::seconds(60)));
  std::string updated = test::run_command(ebs_flow() + " filters update " + std::to_string(alice_id) + " --where '" +
                                              alice_v2 + "' --url " + url + " --token " + alice_token, dir).out;
  INFO(updated);
  CHECK(updated.find("\"version\":2") != std::string::npos);
  std::string listed = test::run_command(ebs_flow() + " filters list --url " + url + " --token " + alice_token, dir).out;
  CHECK(listed.find("\"name\":\"bright\"") != std::string::npos);
  CHECK(listed.find("young") == std::string::npos);

  CHECK(run.wait() == 0);
  INFO(read_text(dir / "err.txt"));

  // The order the filters actor saw the alerts in: the source's, as the jsonl sink wrote it.
  const SourceOrder source = source_order(dir / "run");
  const std::vector<std::string>& order = source.ids;
  const std::vector<std::shared_ptr<const Alert>>& alerts = source.alerts;

  FilterRegistry store(store_path);
  auto effects = store.effects(alice_id);
  REQUIRE(effects.size() == 2);
  CHECK(effects[0].version == 1);
  CHECK(effects[0].sequence == 0);
  CHECK(effects[1].version == 2);
  const size_t switch_at = static_cast<size_t>(effects[1].sequence);
  CHECK(switch_at >= 25);
  CHECK(switch_at < order.size());

  // Alice's topic: exactly the alerts v1 passes before the switch and v2 passes after, each once.
  auto v1 = answers(alice_v1, alerts), v2 = answers(alice_v2, alerts), b = answers(bob_where, alerts);
  std::multiset<std::pair<std::string, int>> expected_alice, got_alice;
  for (size_t i = 0; i < order.size(); ++i)
    if (i < switch_at ? v1[order[i]] : v2[order[i]]) expected_alice.insert({order[i], i < switch_at ? 1 : 2});
  for (const std::string& m : test::read_topic(broker.bootstrap_servers(), "alice-bright", 1)) {
    json message = json::parse(m);
    CHECK(message["filter"]["owner"] == "alice");
    got_alice.insert({alert_id_of(message["alert"]), message["filter"]["version"].get<int>()});
  }
  CHECK(got_alice == expected_alice);
  // The check can tell the versions apart: they disagree on alerts before and after the switch.
  size_t differ_before = 0, differ_after = 0;
  for (size_t i = 0; i < order.size(); ++i) (i < switch_at ? differ_before : differ_after) += v1[order[i]] != v2[order[i]];
  CHECK(differ_before > 0);
  CHECK(differ_after > 0);
  size_t per_version[3] = {0, 0, 0};
  for (const auto& [id, version] : got_alice) ++per_version[version];
  MESSAGE("alice: " << per_version[1] << " alerts by version 1, " << per_version[2] << " by version 2, switch at alert " << switch_at);
  CHECK(per_version[1] > 0);
  CHECK(per_version[2] > 0);

  // Bob's topic: his filter's alerts only, all of them, once.
  std::multiset<std::string> expected_bob, got_bob;
  for (const std::string& id : order)
    if (b[id]) expected_bob.insert(id);
  for (const std::string& m : test::read_topic(broker.bootstrap_servers(), "bob-young", 1)) {
    json message = json::parse(m);
    CHECK(message["filter"]["owner"] == "bob");
    got_bob.insert(alert_id_of(message["alert"]));
  }
  CHECK(!expected_bob.empty());
  CHECK(got_bob == expected_bob);
  // His Avro topic: the same alerts, one Avro container each in schemas/ebs_alert.avsc, read back
  // by Python's avro; the filter is the last annotation.
  std::vector<std::string> containers = test::read_topic(broker.bootstrap_servers(), "bob-young-avro", 1);
  fs::create_directories(dir / "avro");
  for (size_t i = 0; i < containers.size(); ++i)
    std::ofstream(dir / "avro" / (std::to_string(i) + ".avro"), std::ios::binary) << containers[i];
  std::string read_back = test::run_python_oracle(R"py(
import glob, json, sys
from avro.datafile import DataFileReader
from avro.io import DatumReader
for path in sorted(glob.glob(sys.argv[1] + "/*.avro")):
    with DataFileReader(open(path, "rb"), DatumReader()) as reader:
        for alert in reader:
            last = alert["annotations"][-1]
            print(json.dumps({"alert_id": alert["alert_id"], "tag": last["name"], "details": json.loads(last["details"])}))
)py", {(dir / "avro").string()});
  std::multiset<std::string> got_bob_avro;
  std::istringstream avro_lines(read_back);
  for (std::string line; std::getline(avro_lines, line);) {
    json alert = json::parse(line);
    CHECK(alert["tag"] == "filters");
    CHECK(alert["details"] == json::parse(R"({"bob/young": 1})"));
    got_bob_avro.insert(std::to_string(alert["alert_id"].get<int64_t>()));
  }
  CHECK(got_bob_avro == expected_bob);
  // His Confluent topic: the same alerts, each a frame (magic byte 0, the id the registry gave the
  // schema registered once as bob-young-confluent-value, the datum), read by Python's avro with the
  // schema the registry answers for that id.
  std::vector<std::string> frames = test::read_topic(broker.bootstrap_servers(), "bob-young-confluent", 1);
  fs::create_directories(dir / "frames");
  for (size_t i = 0; i < frames.size(); ++i)
    std::ofstream(dir / "frames" / (std::to_string(i) + ".bin"), std::ios::binary) << frames[i];
  std::string framed = test::run_python_oracle(R"py(
import glob, io, json, struct, sys, urllib.request
import avro.io, avro.schema
for path in sorted(glob.glob(sys.argv[1] + "/*.bin")):
    data = open(path, "rb").read()
    assert data[0] == 0, "magic byte"
    schema_id = struct.unpack(">I", data[1:5])[0]
    text = json.loads(urllib.request.urlopen(sys.argv[2] + "/schemas/ids/%d" % schema_id).read())["schema"]
    alert = avro.io.DatumReader(avro.schema.parse(text)).read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))
    last = alert["annotations"][-1]
    print(json.dumps({"alert_id": alert["alert_id"], "schema_id": schema_id, "tag": last["name"],
                      "details": json.loads(last["details"])}))
)py", {(dir / "frames").string(), schema_registry.url()});
  std::multiset<std::string> got_bob_frames;
  std::istringstream frame_lines(framed);
  for (std::string line; std::getline(frame_lines, line);) {
    json alert = json::parse(line);
    CHECK(alert["schema_id"] == 70);
    CHECK(alert["tag"] == "filters");
    CHECK(alert["details"] == json::parse(R"({"bob/young": 1})"));
    got_bob_frames.insert(std::to_string(alert["alert_id"].get<int64_t>()));
  }
  CHECK(got_bob_frames == expected_bob);
  {
    std::lock_guard lock(schema_registry.mutex);
    CHECK(schema_registry.subjects == std::set<std::string>{"bob-young-confluent-value"});
    CHECK(schema_registry.schemas.size() == 1);
  }

  // Carol's webhook never answered: her filter is paused with the reason.
  User root = *store.authenticate(root_token);
  Filter carol = ok(store.filter(root, carol_id));
  CHECK(!carol.active);
  CHECK(carol.paused_reason.find("webhook") != std::string::npos);
  CHECK(hook.requests() >= 1);
  // Her messages held their batches until the output failed, then were let go, counted in the
  // closing block (and their batches acknowledged: the run ended, exit 0, above).
  const std::string closing = read_text(dir / "out.txt") + read_text(dir / "err.txt");
  INFO(closing);
  CHECK(closing.find("/hook (filter " + std::to_string(carol_id) + "): 0 messages delivered, ") != std::string::npos);
  CHECK(closing.find("not confirmed delivered: the output failed (webhook http://127.0.0.1:" + std::to_string(hook.port())) !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("1,000 generated filters run through the binary") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-1000-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  YAML::Node wf;
  wf["name"] = "filters-1000";
  YAML::Node src, users, out;
  src["id"] = "src";
  src["type"] = "avro-files";
  src["config"]["path"] = (test::data_dir() / "ztf").string();
  users["id"] = "users";
  users["type"] = "filters";
  users["inputs"].push_back("src.alerts");
  std::vector<std::string> texts = generated_user_filters(1000, 18);
  for (size_t i = 0; i < texts.size(); ++i) users["config"]["filters"]["user" + std::to_string(i)] = texts[i];
  out["id"] = "out";
  out["type"] = "jsonl";
  out["inputs"].push_back("users.out");
  out["config"]["path"] = "out.jsonl";
  out["config"]["with_raw"] = false;
  wf["actors"].push_back(src);
  wf["actors"].push_back(users);
  wf["actors"].push_back(out);
  std::ofstream(dir / "wf.yaml") << YAML::Dump(wf);
  test::CommandResult result = test::run_command(ebs_flow() + " run wf.yaml --quiet --run-dir run", dir);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  // Every alert some filter passes is there once, with the list of the filters it passed.
  std::vector<std::shared_ptr<const Alert>> alerts;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : test::ztf_alerts(folder)) alerts.push_back(a);
  std::map<std::string, size_t> expected;  // alert id -> filters passed
  for (size_t i = 0; i < texts.size(); ++i)
    for (const auto& [id, passes] : answers(texts[i], alerts)) expected[id] += passes;
  std::erase_if(expected, [](const auto& e) { return e.second == 0; });
  std::map<std::string, size_t> got;
  std::istringstream lines(read_text(dir / "run" / "out.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json alert = json::parse(line);
    for (const json& a : alert["annotations"])
      if (a["name"] == "filters") got[alert_id_of(alert)] += a["details"].size();
  }
  CHECK(got == expected);
  fs::remove_all(dir);
}

namespace {

// Whether a filter's version passes each alert, by alert id.
using Answers = std::map<std::string, bool>;
// (alert id, version of the filter): what a run tagged, or delivered.
using ByVersion = std::multiset<std::pair<std::string, int>>;

// One update of a filter (`label`, e.g. "alice/bright") mid-stream, from a version passing `a1` to
// one passing `a2`, in a run whose `seen` sink wrote the source's order (`source`) and whose `kept`
// sink (in `run_dir`) the alerts the filters tagged: counted per version, each alert under one
// version only, exactly what version 1 passes before one point of the source's order and version 2
// after it, some by each; the webhook got the same (its messages are the one filter's). Each alert
// once, or, across a node loss, at most `duplicates` rows more (the most the replayed batches hold:
// at least once, docs/cluster.md "Failures"), and at most `undelivered` tagged alerts not delivered
// (none: an output's message holds its batch's acknowledgement until delivered, docs/filters.md).
// What a run's `kept` sink (kept.jsonl in `run_dir`) holds tagged by the filter `label`, and what
// `hook` got: (alert id, version) pairs, each as often as it came.
struct TagsAndDeliveries {
  ByVersion tagged, delivered;
};
TagsAndDeliveries tags_and_deliveries(const fs::path& run_dir, RecordingWebhook& hook, const std::string& label) {
  TagsAndDeliveries out;
  std::istringstream kept(read_text(run_dir / "kept.jsonl"));
  for (std::string line; std::getline(kept, line);) {
    json alert = json::parse(line);
    for (const json& a : alert["annotations"])
      if (a["name"] == "filters") {
        json details = a["details"].is_string() ? json::parse(a["details"].get<std::string>()) : a["details"];
        if (details.contains(label)) out.tagged.insert({alert_id_of(alert), details.at(label).get<int>()});
      }
  }
  for (const std::string& body : hook.bodies()) {
    json message = json::parse(body);
    out.delivered.insert({alert_id_of(message["alert"]), message["filter"]["version"].get<int>()});
  }
  return out;
}

void check_switch(const fs::path& run_dir, const SourceOrder& source, const Answers& a1, const Answers& a2,
                  RecordingWebhook& hook, const std::string& label, const std::string& what, size_t duplicates = 0,
                  size_t undelivered = 0) {
  const std::vector<std::string>& order = source.ids;
  const TagsAndDeliveries pairs = tags_and_deliveries(run_dir, hook, label);
  const ByVersion& got = pairs.tagged;
  const ByVersion& delivered = pairs.delivered;
  const std::set<std::pair<std::string, int>> distinct(got.begin(), got.end());
  const std::set<std::pair<std::string, int>> delivered_distinct(delivered.begin(), delivered.end());
  std::string missing;  // tagged, never delivered
  size_t missing_count = 0;
  for (const auto& [alert, version] : distinct)
    if (!delivered_distinct.count({alert, version})) {
      missing += " " + alert + " v" + std::to_string(version);
      ++missing_count;
    }
  std::map<std::string, std::set<int>> versions_of;  // each alert evaluated under one version only
  for (const auto& [alert, version] : distinct) versions_of[alert].insert(version);
  for (const auto& entry : versions_of) CHECK_MESSAGE(entry.second.size() == 1, entry.first);
  size_t per_version[3] = {0, 0, 0};
  for (const auto& [alert, version] : distinct) ++per_version[version];
  MESSAGE(what << ": " << per_version[1] << " alerts by version 1, " << per_version[2] << " by version 2, "
               << got.size() - distinct.size() << " tagged again, " << delivered.size() - delivered_distinct.size()
               << " delivered again, " << missing_count << " tagged but not delivered:" << missing);
  CHECK(per_version[1] > 0);
  CHECK(per_version[2] > 0);
  CHECK(got.size() - distinct.size() <= duplicates);
  // Nothing delivered that was not tagged, under the version it was tagged with.
  CHECK(std::includes(distinct.begin(), distinct.end(), delivered_distinct.begin(), delivered_distinct.end()));
  CHECK(missing_count <= undelivered);
  CHECK(delivered.size() - delivered_distinct.size() <= duplicates);
  std::vector<size_t> cuts;
  for (size_t cut = 0; cut <= order.size(); ++cut) {
    std::set<std::pair<std::string, int>> expected;
    for (size_t i = 0; i < order.size(); ++i)
      if (i < cut ? a1.at(order[i]) : a2.at(order[i])) expected.insert({order[i], i < cut ? 1 : 2});
    if (expected == distinct) cuts.push_back(cut);
  }
  CHECK(!cuts.empty());
}

// Alice (10,000 alerts/s per output), a token of hers and her filter `name` (`text`, of `kind`)
// delivering to `hook`, in the store at `path`.
struct AlicesFilter {
  int64_t id = 0;
  std::string token;
};
AlicesFilter add_alices_filter(const fs::path& path, const std::string& name, const std::string& text,
                               RecordingWebhook& hook, Filter::Kind kind = Filter::Kind::expression) {
  FilterRegistry store(path.string());
  Limits generous;
  generous.max_alerts_per_second = 10000;
  User alice = ok(store.create_user("alice", false, generous));
  AlicesFilter out;
  out.token = ok(store.issue_token("alice", false));
  out.id = ok(store.create_filter(alice, name, text,
                                  {{Output::Kind::webhook, hook.url()}},
                                  kind))
               .id;
  return out;
}

// A node-loss case of alice's "bright" updated mid-run: its directory `name` (made afresh), her
// filter (version 1) in its filters.sqlite delivering to `hook`, and `update`, a shell line that
// changes it to version 2 through the run's API at ${url} (its answer in updated.json).
struct BrightUpdateCase {
  const std::string v1 = "mag < 18.5", v2 = "mag >= 18.5 or mag < 16";
  RecordingWebhook hook;
  fs::path dir;
  AlicesFilter alices;
  std::string update;

  explicit BrightUpdateCase(const std::string& name, std::chrono::milliseconds hook_delay = std::chrono::milliseconds(0))
      : hook({.delay = hook_delay}), dir(fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    alices = add_alices_filter(dir / "filters.sqlite", "bright", v1, hook);
    update = "curl -s -X PUT -H 'Authorization: Bearer " + alices.token +
             "' -H 'Content-Type: application/json' -d '" + json{{"where", v2}}.dump() + "' \"${url}api/filters/" +
             std::to_string(alices.id) + "\" > updated.json\n";
  }
};

// A workflow (`header`: its name and top-level keys) of the real ZTF alerts at `rate` from node
// `first`, and a `filters` actor `users` over filters.sqlite of two instances, one on `first`
// and one on `second` (keyed by object: every source batch is split between them, the second's
// part crosses a link), tagging what passes; `seen` keeps the source's order, `kept` what the
// filters tagged (both on `first`). With `repository`, the alerts go through a `repository` sink
// (repo.sqlite, on `first`) and `users` reads its `committed` port and queries it.
std::string two_instances_workflow(const std::string& header, int rate, const std::string& first,
                                   const std::string& second, bool repository = false) {
  std::ostringstream wf;
  wf << header << "actors:\n"
     << "  - id: src\n    type: avro-files\n    rate: " << rate << "\n    placement: {nodes: [" << first << "]}\n"
     << "    config: {path: \"" << (test::data_dir() / "ztf").string() << "\"}\n";
  if (repository)
    wf << "  - id: repo\n    type: repository\n    inputs: [src.alerts]\n    placement: {nodes: [" << first << "]}\n"
       << "    config: {path: repo.sqlite}\n";
  wf << "  - id: users\n    type: filters\n    parallelism: 2\n    placement: {nodes: [" << first << ", " << second
     << "], per_node: 1}\n    inputs: [{from: " << (repository ? "repo.committed" : "src.alerts")
     << ", partition: object_id}]\n    config: {registry: filters.sqlite, tag: filters"
     << (repository ? ", repository: repo.sqlite" : "") << "}\n";
  for (const auto& [sink, from] : {std::pair{"seen", "src.alerts"}, std::pair{"kept", "users.out"}})
    wf << "  - id: " << sink << "\n    type: jsonl\n    inputs: [" << from << "]\n    placement: {nodes: [" << first
       << "]}\n    config: {path: " << sink << ".jsonl, with_raw: false, fsync: false}\n";
  return wf.str();
}

// The log of filter `id`'s versions taking effect: the instances that logged each version, and
// the source sequences version 2 was logged from.
struct EffectLog {
  std::map<int64_t, std::set<std::string>> instances;
  std::set<int64_t> version_2_from;
};
EffectLog effect_log(const FilterRegistry& store, int64_t id) {
  EffectLog out;
  for (const auto& e : store.effects(id)) {
    out.instances[e.version].insert(e.instance);
    if (e.version == 2) out.version_2_from.insert(e.source_sequence);
  }
  return out;
}

// The nodes whose `users` instances took alerts, by the run's summary (--summary-json).
std::set<std::string> nodes_that_evaluated(const fs::path& summary) {
  const json parsed = json::parse(read_text(summary));
  std::set<std::string> out;
  for (const json& a : parsed["actors"])
    if (a["id"] == "users")
      for (const json& inst : a["instances"])
        if (inst["in"].get<int64_t>() > 0) out.insert(inst["node"].get<std::string>());
  return out;
}

// Once the run's `seen` sink (in `run_dir`) holds 30 alerts, alice's filter `id` changed by `change`
// (`{"where": ...}` or `{"sql": ...}`) through the run's API at `url`, as a user would: version 2.
// Over HTTP from here rather than with `ebs-flow filters update`, whose start under the
// sanitizers (~2 s) outlasts the rest of the stream (86 alerts at 40/s).
void update_after_30_seen(const fs::path& run_dir, const std::string& url, int64_t id, const std::string& token,
                          const json& change) {
  REQUIRE(test::wait_until([&] {
    std::string seen = read_text(run_dir / "seen.jsonl");
    return std::count(seen.begin(), seen.end(), '\n') >= 30;
  }, std::chrono::seconds(60)));
  httplib::Client client(url);
  auto updated = client.Put("/api/filters/" + std::to_string(id), {{"Authorization", "Bearer " + token}}, change.dump(),
                            "application/json");
  REQUIRE(updated);
  INFO(updated->body);
  CHECK(updated->status == 200);
  CHECK(json::parse(updated->body)["version"] == 2);
}

// check_switch for alice's "bright", updated from expression `v1` to `v2`, in a run in dir/run.
void check_one_switch(const fs::path& dir, const std::string& v1, const std::string& v2, RecordingWebhook& hook,
                      const std::string& what) {
  const SourceOrder source = source_order(dir / "run");
  check_switch(dir / "run", source, answers(v1, source.alerts), answers(v2, source.alerts), hook, "alice/bright", what);
}


}  // namespace

TEST_CASE("serve --filters: users and tokens through its HTTP server (rotate, revoke), a filter a run then applies") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-serve-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string ztf = (test::data_dir() / "ztf").string();
  // A repository of the real ZTF alerts for `serve` to serve beside the filter API.
  std::ofstream(dir / "store.yaml") << "name: store\nactors:\n"
                                       "  - id: src\n    type: avro-files\n    config: {path: \"" << ztf << "\"}\n"
                                       "  - id: repo\n    type: repository\n    inputs: [src.alerts]\n"
                                       "    config: {path: \"" << (dir / "repo.sqlite").string() << "\"}\n";
  test::CommandResult stored = test::run_command(ebs_flow() + " run store.yaml --quiet --run-dir store-run", dir);
  INFO(stored.err);
  REQUIRE(stored.exit_code == 0);
  // The first admin, made by whoever holds the store's file.
  test::CommandResult admin = test::run_command(ebs_flow() + " filters user add root --admin --registry filters.sqlite", dir);
  REQUIRE(admin.exit_code == 0);
  const std::string root_token = json::parse(admin.out)["token"];

  test::Child serve(ebs_flow() + " serve repo.sqlite --filters filters.sqlite --http 127.0.0.1:0", dir, dir / "serve-out.txt",
                    dir / "serve-err.txt");
  const std::string url = serving_url(dir / "serve-out.txt");
  INFO(read_text(dir / "serve-err.txt"));
  httplib::Client client(url);
  auto as = [](const std::string& token) { return httplib::Headers{{"Authorization", "Bearer " + token}}; };

  // The repository's API is there too (loopback, no server token): the stored alerts.
  auto recent = client.Get("/api/recent");
  REQUIRE(recent);
  CHECK(recent->status == 200);
  CHECK(recent->body.find("ZTF") != std::string::npos);

  // An admin creates alice and issues her a token, shown once.
  REQUIRE(client.Post("/api/users", as(root_token), R"({"name": "alice", "limits": {"alerts_per_second": 10000}})",
                      "application/json")->status == 201);
  auto first = client.Post("/api/users/alice/tokens", as(root_token), "{}", "application/json");
  REQUIRE(first->status == 201);
  const std::string token1 = json::parse(first->body)["token"];
  CHECK(client.Get("/api/filters", as(token1))->status == 200);

  // Alice adds a filter through the CLI against serve's API.
  RecordingWebhook hook;
  const std::string where = "mag < 18.5 and candidate.drb > 0.5";
  test::CommandResult added = test::run_command(ebs_flow() + " filters add bright '" + where + "' --webhook " + hook.url() +
                                                    " --url " + url + " --token " + token1,
                                                dir);
  INFO(added.err);
  REQUIRE(added.exit_code == 0);
  const int64_t id = json::parse(added.out)["id"];

  // An SQL filter through the CLI (`--sql`), its query checked as `sql-filter` checks its own: a
  // wrong one is refused with its place (through the CLI and the API alike). The run below has no
  // `repository`, so it pauses the filter with the reason and the expression filter alone runs.
  const std::string seen_sql = "SELECT 1 FROM objects WHERE object_id = :object_id AND ndet >= 2";
  test::CommandResult added_sql = test::run_command(ebs_flow() + " filters add seen --sql '" + seen_sql + "' --webhook " + hook.url() +
                                                        " --url " + url + " --token " + token1,
                                                    dir);
  INFO(added_sql.err);
  REQUIRE(added_sql.exit_code == 0);
  const json seen = json::parse(added_sql.out);
  CHECK(seen["kind"] == "sql");
  CHECK(seen["sql"] == seen_sql);
  CHECK(!seen.contains("where"));
  test::CommandResult typo = test::run_command(ebs_flow() + " filters add typo --sql 'SELECT 1 FROM objectz' --webhook "
                                                   "http://127.0.0.1:1/hook --url " + url + " --token " + token1,
                                               dir);
  CHECK(typo.exit_code != 0);
  CHECK(typo.err.find("HTTP 400: the query is wrong:\ncolumn 15: no such table: objectz (did you mean 'objects'") !=
        std::string::npos);
  CHECK(typo.err.find("\n  SELECT 1 FROM objectz\n  " + std::string(14, ' ') + "^") != std::string::npos);
  auto typo_api = client.Post("/api/filters", as(token1),
                              R"({"name": "typo", "sql": "SELECT :magg", "outputs": [{"kind": "kafka", "target": "t"}]})",
                              "application/json");
  REQUIRE(typo_api);
  CHECK(typo_api->status == 400);
  CHECK(json::parse(typo_api->body)["error"].get<std::string>().find("column 8: unknown parameter :magg") != std::string::npos);

  // Rotate: a new token; the old one is refused (401), the new one sees her filter.
  auto rotated = client.Post("/api/users/alice/tokens", as(root_token), R"({"rotate": true})", "application/json");
  REQUIRE(rotated->status == 201);
  const std::string token2 = json::parse(rotated->body)["token"];
  CHECK(token2 != token1);
  CHECK(client.Get("/api/filters", as(token1))->status == 401);
  auto mine = client.Get("/api/filters", as(token2));
  REQUIRE(mine->status == 200);
  REQUIRE(json::parse(mine->body).size() == 2);
  CHECK(json::parse(mine->body)[0]["id"] == id);
  // Only an admin rotates or revokes.
  CHECK(client.Delete("/api/users/alice/tokens", as(token2))->status == 403);
  // Revoke: every token of hers is refused; the admin's still works, and her filter stays.
  auto revoked = client.Delete("/api/users/alice/tokens", as(root_token));
  REQUIRE(revoked->status == 200);
  CHECK(json::parse(revoked->body)["revoked"] == 1);
  CHECK(client.Get("/api/filters", as(token2))->status == 401);
  CHECK(client.Get("/api/filters/" + std::to_string(id), as(token2))->status == 401);
  auto all = client.Get("/api/filters", as(root_token));
  REQUIRE(all->status == 200);
  CHECK(json::parse(all->body).size() == 2);

  // Her limits changed in place (PATCH: the ones named; the others kept): lowered under her two
  // filters, a third is refused (429) and both stay; only an admin changes limits (403), an unknown
  // user is 404, a negative limit or an unknown one 400.
  const std::string token3 = json::parse(client.Post("/api/users/alice/tokens", as(root_token), "{}", "application/json")->body)["token"];
  auto patched = client.Patch("/api/users/alice", as(root_token), R"({"limits": {"filters": 1, "sql_steps": 40000}})",
                              "application/json");
  REQUIRE(patched);
  CHECK(patched->status == 200);
  const json limits = json::parse(patched->body)["limits"];
  CHECK(limits == json{{"filters", 1}, {"alerts_per_second", 10000.0}, {"expression_cost", Limits{}.max_expression_cost},
                       {"sql_filters", Limits{}.max_sql_filters}, {"sql_steps", 40000}});
  auto third = client.Post("/api/filters", as(token3),
                           R"({"name": "third", "where": "mag < 17", "outputs": [{"kind": "kafka", "target": "t"}]})",
                           "application/json");
  REQUIRE(third);
  CHECK(third->status == 429);
  CHECK(json::parse(third->body)["error"] == "'alice' has 2 filters, the limit");
  CHECK(json::parse(client.Get("/api/filters", as(token3))->body).size() == 2);
  CHECK(client.Patch("/api/users/alice", as(token3), R"({"limits": {"filters": 50}})", "application/json")->status == 403);
  CHECK(client.Patch("/api/users/nobody", as(root_token), R"({"limits": {"filters": 5}})", "application/json")->status == 404);
  auto negative = client.Patch("/api/users/alice", as(root_token), R"({"limits": {"filters": -1}})", "application/json");
  CHECK(negative->status == 400);
  CHECK(json::parse(negative->body)["error"] == "the limit `filters` must not be negative");
  auto unknown = client.Patch("/api/users/alice", as(root_token), R"({"limits": {"filterz": 5}})", "application/json");
  CHECK(unknown->status == 400);
  CHECK(json::parse(unknown->body)["error"].get<std::string>().starts_with("no limit 'filterz'"));
  CHECK(client.Patch("/api/users/alice", as(root_token), "{}", "application/json")->status == 400);
  auto nothing = client.Patch("/api/users/alice", as(root_token), R"({"limits": {}})", "application/json");
  CHECK(nothing->status == 400);
  CHECK(json::parse(nothing->body)["error"].get<std::string>().starts_with("no limit to change"));
  // A limit of another type than its own is refused, named, rather than cut or converted.
  for (const auto& [body, error] : std::vector<std::pair<std::string, std::string>>{
           {R"({"limits": {"filters": 2.5}})", "the limit `filters` must be an integer"},
           {R"({"limits": {"sql_steps": true}})", "the limit `sql_steps` must be an integer"},
           {R"({"limits": {"alerts_per_second": "9"}})", "the limit `alerts_per_second` must be a number"}}) {
    auto wrong = client.Patch("/api/users/alice", as(root_token), body, "application/json");
    CHECK(wrong->status == 400);
    CHECK(json::parse(wrong->body)["error"] == error);
  }
  CHECK(json::parse(client.Post("/api/users", as(root_token), R"({"name": "bob", "limits": {"expression_cost": 1.5}})",
                                "application/json")->body)["error"] == "the limit `expression_cost` must be an integer");
  CHECK(client.Patch("/api/users/alice", as(root_token), R"({"limits": {"alerts_per_second": 10000}})", "application/json")
            ->status == 200);  // an integer is a number
  // The CLI through the API (an admin's token): raised again, the third filter is accepted.
  test::CommandResult raised = test::run_command(ebs_flow() + " filters user set alice --max-filters 3 --url " + url +
                                                     " --token " + root_token, dir);
  INFO(raised.err);
  REQUIRE(raised.exit_code == 0);
  CHECK(json::parse(raised.out)["limits"]["filters"] == 3);
  CHECK(json::parse(raised.out)["limits"]["sql_steps"] == 40000);
  third = client.Post("/api/filters", as(token3),
                      R"({"name": "third", "where": "mag < 17", "outputs": [{"kind": "kafka", "target": "t"}]})",
                      "application/json");
  CHECK(third->status == 201);
  CHECK(client.Delete("/api/filters/" + std::to_string(json::parse(third->body)["id"].get<int64_t>()), as(token3))->status == 200);
  test::CommandResult not_admin = test::run_command(ebs_flow() + " filters user set alice --max-filters 9 --url " + url +
                                                        " --token " + token3, dir);
  CHECK(not_admin.exit_code != 0);
  CHECK(not_admin.err.find("HTTP 403") != std::string::npos);
  // A name with '%' is sent encoded: it names that user, not the one its decoding would (alice).
  REQUIRE(client.Post("/api/users", as(root_token), R"({"name": "al%69ce"})", "application/json")->status == 201);
  test::CommandResult encoded = test::run_command(ebs_flow() + " filters user set al%69ce --max-filters 7 --url " + url +
                                                      " --token " + root_token, dir);
  INFO(encoded.err);
  REQUIRE(encoded.exit_code == 0);
  CHECK(json::parse(encoded.out)["name"] == "al%69ce");
  CHECK(json::parse(encoded.out)["limits"]["filters"] == 7);
  for (const json& u : json::parse(client.Get("/api/users", as(root_token))->body))
    if (u["name"] == "alice") CHECK(u["limits"]["filters"] == 3);
  REQUIRE(client.Delete("/api/users/al%2569ce", as(root_token))->status == 200);
  CHECK(serve.stop(SIGTERM) == 0);
  // And on the store's file (local, as `filters user add`): the rate limit the run below reads.
  test::CommandResult local = test::run_command(ebs_flow() + " filters user set alice --max-rate 20000 --registry filters.sqlite", dir);
  INFO(local.err);
  REQUIRE(local.exit_code == 0);
  CHECK(json::parse(local.out)["limits"]["alerts_per_second"] == 20000.0);
  CHECK(json::parse(local.out)["limits"]["filters"] == 3);
  CHECK(test::run_command(ebs_flow() + " filters user set nobody --max-rate 1 --registry filters.sqlite", dir).exit_code != 0);
  CHECK(test::run_command(ebs_flow() + " filters user set alice --registry filters.sqlite", dir).exit_code != 0);

  // A run over the same store applies the filter made through serve: tagged alerts and webhook
  // messages are exactly the alerts the filter passes (a registry's tag is, by default, how many
  // filters an alert passed).
  std::ofstream(dir / "apply.yaml") << "name: apply\nactors:\n"
                                       "  - id: src\n    type: avro-files\n    config: {path: \"" << ztf << "\"}\n"
                                       "  - id: users\n    type: filters\n    inputs: [src.alerts]\n"
                                       "    config: {registry: filters.sqlite}\n"
                                       "  - id: kept\n    type: jsonl\n    inputs: [users.out]\n"
                                       "    config: {path: kept.jsonl, with_raw: false, fsync: false}\n";
  test::CommandResult applied = test::run_command(ebs_flow() + " run apply.yaml --quiet --run-dir apply-run", dir);
  INFO(applied.err);
  REQUIRE(applied.exit_code == 0);
  std::vector<std::shared_ptr<const Alert>> alerts;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : test::ztf_alerts(folder)) alerts.push_back(a);
  std::multiset<std::string> expected, tagged, delivered;
  for (const auto& [alert_id, passes] : answers(where, alerts))
    if (passes) expected.insert(alert_id);
  std::istringstream lines(read_text(dir / "apply-run" / "kept.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json alert = json::parse(line);
    for (const json& a : alert["annotations"])
      if (a["name"] == "filters") {
        CHECK(a["value"] == 1);
        CHECK(!a.contains("details"));
        tagged.insert(alert_id_of(alert));
      }
  }
  for (const std::string& body : hook.bodies()) delivered.insert(alert_id_of(json::parse(body)["alert"]));
  CHECK(!expected.empty());
  CHECK(tagged == expected);
  CHECK(delivered == expected);
  // The SQL filter was paused with the reason, never in force.
  FilterRegistry store((dir / "filters.sqlite").string());
  User root = *store.authenticate(root_token);
  Filter paused = ok(store.filter(root, seen["id"].get<int64_t>()));
  CHECK(!paused.active);
  CHECK(paused.paused_reason.find("no `repository`") != std::string::npos);
  CHECK(store.effects(paused.id).empty());
  fs::remove_all(dir);
}

namespace {

// The store's user named `name`.
User user_named(const FilterRegistry& store, const std::string& name) {
  for (const User& u : store.users())
    if (u.name == name) return u;
  FAIL("no user " << name);
  return {};
}

}  // namespace

TEST_CASE("SQL filters in the service answer as `sql-filter` does, on the repository the run writes from real ZTF alerts") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-sql-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  RecordingWebhook hook;
  const std::string hook_url = hook.url();
  // Queries whose answer for an alert does not depend on the alerts committed after it (the
  // `filters` actor and `sql-filter` each ask when they get the alert): the alert's own row and
  // those of earlier detections.
  const std::map<std::string, std::string> queries = {
      {"faint-history", "SELECT 1 FROM lightcurve WHERE object_id = :object_id AND mjd_tai < :mjd_tai AND mag > 19.5"},
      {"own-row", "SELECT mag FROM alerts WHERE alert_id = :alert_id AND band = 'g' AND mag < 18.5"},
  };
  {
    FilterRegistry store((dir / "filters.sqlite").string());
    Limits generous;
    generous.max_alerts_per_second = 10000;
    User alice = ok(store.create_user("alice", false, generous));
    for (const auto& [name, sql] : queries)
      ok(store.create_filter(alice, name, sql, {{Output::Kind::webhook, hook_url}}, Filter::Kind::sql));
    ok(store.create_filter(alice, "bright", "mag < 18.5", {{Output::Kind::webhook, hook_url}}));
  }
  // Bob, made by the admin's CLI with his own limit on SQL steps per alert (below the service's
  // 1,000,000), keeps a query of ~360,000 steps: stopped at his first alert, paused, naming his limit.
  test::CommandResult bob_added =
      test::run_command(ebs_flow() + " filters user add bob --max-sql-steps 50000 --registry filters.sqlite", dir);
  INFO(bob_added.err);
  REQUIRE(bob_added.exit_code == 0);
  int64_t bobs_count = 0;
  {
    FilterRegistry store((dir / "filters.sqlite").string());
    User bob = user_named(store, "bob");
    CHECK(bob.limits.max_sql_steps == 50'000);
    bobs_count = ok(store.create_filter(bob, "count",
                                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
                                        "SELECT 1 FROM c WHERE x = 20000 AND :mag > 0",
                                        {{Output::Kind::webhook, hook_url}}, Filter::Kind::sql))
                     .id;
  }
  std::ostringstream wf;
  // Batches of 16: the queries run on a repository that grows between batches.
  wf << "name: sql-filters\ndefaults: {batch_size: 16}\nactors:\n"
        "  - id: src\n    type: avro-files\n    config: {path: \"" << (test::data_dir() / "ztf").string() << "\"}\n"
        "  - id: repo\n    type: repository\n    inputs: [src.alerts]\n    config: {path: repo.sqlite}\n"
        "  - id: users\n    type: filters\n    inputs: [repo.committed]\n"
        "    config: {registry: filters.sqlite, repository: repo.sqlite, tag: filters}\n"
        "  - id: tagged\n    type: jsonl\n    inputs: [users.out]\n    config: {path: tagged.jsonl, with_raw: false, fsync: false}\n";
  for (const auto& [name, sql] : queries)
    wf << "  - id: " << name << "\n    type: sql-filter\n    inputs: [repo.committed]\n"
       << "    config: {db: repo.sqlite, query: \"" << sql << "\"}\n"
       << "  - id: " << name << "-out\n    type: jsonl\n    inputs: [" << name << ".out]\n"
       << "    config: {path: " << name << ".jsonl, with_raw: false, fsync: false}\n";
  std::ofstream(dir / "wf.yaml") << wf.str();
  test::CommandResult ran = test::run_command(ebs_flow() + " run wf.yaml --quiet --run-dir run", dir);
  INFO(ran.err);
  REQUIRE(ran.exit_code == 0);

  auto ids_in = [&](const fs::path& path) {
    std::multiset<std::string> out;
    std::istringstream lines(read_text(path));
    for (std::string line; std::getline(lines, line);) out.insert(alert_id_of(json::parse(line)));
    return out;
  };
  std::map<std::string, std::multiset<std::string>> tagged, delivered;
  {
    std::istringstream lines(read_text(dir / "run" / "tagged.jsonl"));
    for (std::string line; std::getline(lines, line);) {
      json alert = json::parse(line);
      const json tag = alert["annotations"].back()["details"];
      for (const auto& [label, version] : tag.items())
        tagged[label].insert(alert_id_of(alert));
    }
    for (const std::string& body : hook.bodies()) {
      json message = json::parse(body);
      delivered["alice/" + message["filter"]["filter"].get<std::string>()].insert(alert_id_of(message["alert"]));
    }
  }
  for (const auto& query : queries) {
    // Named, not bound: clang 14 cannot capture a structured binding in INFO's lambda.
    const std::string& name = query.first;
    const std::string& sql = query.second;
    INFO(name << ": " << sql);
    std::multiset<std::string> expected = ids_in(dir / "run" / (name + ".jsonl"));
    CHECK(!expected.empty());
    CHECK(tagged["alice/" + name] == expected);
    CHECK(delivered["alice/" + name] == expected);
  }
  CHECK(!tagged["alice/bright"].empty());
  CHECK(delivered["alice/bright"] == tagged["alice/bright"]);
  CHECK(tagged.count("bob/count") == 0);
  FilterRegistry store((dir / "filters.sqlite").string());
  Filter bobs = ok(store.filter(user_named(store, "bob"), bobs_count));
  CHECK(!bobs.active);
  CHECK(bobs.paused_reason ==
        "the query failed: it took more than 50000 SQLite steps for one alert (the limit, bob's sql_steps)");
  fs::remove_all(dir);
}

TEST_CASE("an update mid-stream with parallelism 2: both instances switch at one source sequence, no alert lost or repeated") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-parallel-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string store_path = (dir / "filters.sqlite").string();
  const std::string v1 = "mag < 18.5", v2 = "mag >= 18.5 or mag < 16";
  RecordingWebhook hook;
  int64_t id = 0;
  User alice;
  {
    FilterRegistry store(store_path);
    Limits generous;
    generous.max_alerts_per_second = 10000;
    alice = ok(store.create_user("alice", false, generous));
    id = ok(store.create_filter(alice, "bright", v1,
                                {{Output::Kind::webhook, hook.url()}}))
             .id;
  }
  // Keyed by object: every source batch is split between the two instances, each part with the
  // batch's source sequence.
  std::ofstream(dir / "wf.yaml") << "name: filters-parallel\nactors:\n"
                                    "  - id: src\n    type: avro-files\n    rate: 40\n"
                                    "    config: {path: \"" << (test::data_dir() / "ztf").string() << "\"}\n"
                                    "  - id: users\n    type: filters\n    parallelism: 2\n"
                                    "    inputs: [{from: src.alerts, partition: object_id}]\n"
                                    "    config: {registry: filters.sqlite, tag: filters}\n"
                                    "  - id: seen\n    type: jsonl\n    inputs: [src.alerts]\n"
                                    "    config: {path: seen.jsonl, with_raw: false, fsync: false}\n"
                                    "  - id: kept\n    type: jsonl\n    inputs: [users.out]\n"
                                    "    config: {path: kept.jsonl, with_raw: false, fsync: false}\n";
  test::Child run(ebs_flow() + " run wf.yaml --quiet --run-dir run", dir, dir / "out.txt", dir / "err.txt");
  REQUIRE(test::wait_until([&] {
    std::string seen = read_text(dir / "run" / "seen.jsonl");
    return std::count(seen.begin(), seen.end(), '\n') >= 30;
  }, std::chrono::seconds(60)));
  ok(FilterRegistry(store_path).update_filter(alice, id, v2, std::nullopt));
  CHECK(run.wait() == 0);
  INFO(read_text(dir / "err.txt"));

  // Both instances logged version 2 from the same source sequence.
  FilterRegistry store(store_path);
  std::set<std::string> instances;
  std::set<int64_t> points;
  for (const auto& e : store.effects(id)) {
    CHECK(e.attempt == kFirstAttempt);  // one process: one attempt
    if (e.version == 2) {
      instances.insert(e.instance);
      points.insert(e.source_sequence);
    }
  }
  CHECK(instances == std::set<std::string>{"users#0", "users#1"});
  REQUIRE(points.size() == 1);
  CHECK(*points.begin() > 0);
  check_one_switch(dir, v1, v2, hook, "parallelism 2, switch at source batch " + std::to_string(*points.begin()));
  fs::remove_all(dir);
}

TEST_CASE("a cluster run: an update through the coordinator's API reaches the filters instances on both nodes at one source sequence") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-cluster-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string store_path = (dir / "filters.sqlite").string();
  const std::string v1 = "mag < 18.5", v2 = "mag >= 18.5 or mag < 16";
  RecordingWebhook hook;
  const AlicesFilter alices = add_alices_filter(store_path, "bright", v1, hook);
  const int64_t id = alices.id;
  const std::string& token = alices.token;
  std::ofstream(dir / "wf.yaml") << two_instances_workflow("name: filters-cluster\n", 40, "node1", "node2");
  test::Child run(ebs_flow() + " run wf.yaml --local-cluster 2 --threads 1 --quiet --run-dir run --summary-json summary.json "
                  "--http 127.0.0.1:0", dir,
                  dir / "out.txt", dir / "err.txt");
  // Through the coordinator's API.
  update_after_30_seen(dir / "run", dashboard_url(dir / "out.txt"), id, token, {{"where", v2}});
  CHECK(run.wait() == 0);
  INFO(read_text(dir / "err.txt"));

  // Each version logged in the coordinator's store by the instance on each node, version 2 from
  // one source sequence.
  EffectLog log = effect_log(FilterRegistry(store_path), id);
  const std::set<std::string> both{"users#0@node1", "users#1@node2"};
  CHECK(log.instances[1] == both);
  CHECK(log.instances[2] == both);
  REQUIRE(log.version_2_from.size() == 1);
  const int64_t point = *log.version_2_from.begin();
  CHECK(point > 0);
  check_one_switch(dir, v1, v2, hook, "two nodes, switch at source batch " + std::to_string(point));
  // Both nodes' instances evaluated alerts (node2's through the link).
  CHECK(nodes_that_evaluated(dir / "summary.json") == std::set<std::string>{"node1", "node2"});
  fs::remove_all(dir);
}

namespace {

// Whether `sql` passes each of `alerts` (by alert id), asked of the repository at `path` as the run
// left it: for a query about the alert's own row, what it answered when the alert came.
Answers sql_answers(const fs::path& path, const std::string& sql, const std::vector<std::shared_ptr<const Alert>>& alerts) {
  repository::Reader reader(path.string());
  repository::AlertQuery query(reader.database(), sql);
  Answers out;
  for (const auto& a : alerts) out[std::to_string(a->core().alert_id)] = query.matches(a->core());
  return out;
}

}  // namespace

TEST_CASE("SQL filters on the nodes of a cluster run: the same answers per version as in one process, across an update") {
  // About the alert's own row in the repository: answered the same whenever it is asked after the
  // alert was committed (the `filters` actor reads the repository sink's `committed` port).
  const std::string v1 = "SELECT 1 FROM alerts WHERE alert_id = :alert_id AND mag < 18.5";
  const std::string v2 = "SELECT 1 FROM alerts WHERE alert_id = :alert_id AND (band = 'g' OR mag >= 19)";
  std::map<bool, std::pair<Answers, Answers>> answers_of;  // run on the cluster -> each version's answers
  for (const bool cluster : {false, true}) {
    CAPTURE(cluster);
    fs::path dir = fs::temp_directory_path() /
                   ("ebs-filters-sql-" + std::string(cluster ? "cluster-" : "one-") + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    RecordingWebhook hook;
    const AlicesFilter alices = add_alices_filter(dir / "filters.sqlite", "own", v1, hook, Filter::Kind::sql);
    const int64_t id = alices.id;
    const std::string& token = alices.token;
    // The source and the repository on node1, one `filters` instance per node, each querying the
    // repository at the path the workflow names (one file here: the nodes share the machine). One
    // process ignores the placements.
    std::ofstream(dir / "wf.yaml") << two_instances_workflow("name: filters-sql-cluster\n", 40, "node1", "node2", true);
    test::Child run(ebs_flow() + " run wf.yaml " + (cluster ? "--local-cluster 2 --threads 1 " : "") +
                        "--quiet --run-dir run --summary-json summary.json --http 127.0.0.1:0",
                    dir, dir / "out.txt", dir / "err.txt");
    update_after_30_seen(dir / "run", dashboard_url(dir / "out.txt"), id, token, {{"sql", v2}});
    CHECK(run.wait() == 0);
    INFO(read_text(dir / "err.txt"));

    // Each version logged by both instances (on both nodes), version 2 from one source sequence.
    FilterRegistry store((dir / "filters.sqlite").string());
    EffectLog log = effect_log(store, id);
    const std::set<std::string> both =
        cluster ? std::set<std::string>{"users#0@node1", "users#1@node2"} : std::set<std::string>{"users#0", "users#1"};
    CHECK(log.instances[1] == both);
    CHECK(log.instances[2] == both);
    REQUIRE(log.version_2_from.size() == 1);
    const Filter own = ok(store.filter(user_named(store, "alice"), id));  // its query ran on both nodes: not paused
    CHECK(own.active);
    CHECK(own.version == 2);
    const SourceOrder source = source_order(dir / "run");
    const fs::path repository = dir / "run" / "repo.sqlite";
    const Answers a1 = sql_answers(repository, v1, source.alerts), a2 = sql_answers(repository, v2, source.alerts);
    answers_of[cluster] = {a1, a2};
    check_switch(dir / "run", source, a1, a2, hook, "alice/own",
                 std::string(cluster ? "two nodes" : "one process") + ", switch at source batch " +
                     std::to_string(*log.version_2_from.begin()));
    if (cluster)  // both nodes' instances queried the repository
      CHECK(nodes_that_evaluated(dir / "summary.json") == std::set<std::string>{"node1", "node2"});
    fs::remove_all(dir);
  }
  // The two runs read the same alerts, and each version's query answered each alert the same in
  // both (the switch point differs between runs: each run's tags are checked against its own
  // answers above, so per version the two runs tagged the same alerts).
  REQUIRE(answers_of.size() == 2);
  CHECK(!answers_of[false].first.empty());
  CHECK(answers_of[true].first == answers_of[false].first);
  CHECK(answers_of[true].second == answers_of[false].second);
}

TEST_CASE("kill -9 of the node holding a filters instance mid-update: its replacement resumes the lost one's switch "
          "points; per version, every alert at least once") {
  // 200 ms per message: each instance's queue (about 10 alerts/s) falls behind, so b holds
  // undelivered messages when it is stopped and killed (lost with it when they held nothing).
  BrightUpdateCase bright("ebs-filters-failover", std::chrono::milliseconds(200));
  const fs::path& dir = bright.dir;
  const int64_t id = bright.alices.id;
  // The source and the sinks on a, users#1 on b. b is stopped 0.8 s into the stream (86 alerts
  // at 20/s), alice's update goes through the coordinator's API ($url) while it is stopped, so b
  // never reaches the update's switch point (made after what b claimed), and b is killed 1 s
  // later: users#1 is replaced on a, which gets the batches b had not released again (those sent
  // to b in that second, about 10 one-alert batches: none only with a chance of about 2^-20),
  // some before the point and some after.
  std::ofstream(dir / "workflow.yaml") << two_instances_workflow(
      "name: filters-failover\non_node_loss: failover\n", 20, "a", "b");
  std::ofstream(dir / "script.sh") << test::cluster_script({"a", "b"}, "b", "KILL", 0.8, false, true, "", 1.0,
                                                           bright.update);
  test::run_script(dir);
  const std::string err = read_text(dir / "run.err");
  INFO(err);
  CHECK(test::rc(dir, "run") == 0);
  CHECK(test::rc(dir, "b") == 128 + 9);
  CHECK(test::rc(dir, "a") == 0);
  CHECK(json::parse(read_text(dir / "updated.json"), nullptr, false)["version"] == 2);
  const json summary = json::parse(read_text(dir / "summary.json"));
  const json& cluster = summary["cluster"];
  REQUIRE(cluster["lost_nodes"].size() == 1);
  CHECK(cluster["lost_nodes"][0]["instances_replaced"] == json::array({"users/1"}));
  CHECK(cluster["lost_nodes"][0]["placed_on"] == json({{"users/1", "a"}}));
  CHECK(cluster["replayed_batches"].get<size_t>() > 0);
  const size_t duplicates_sent = cluster["duplicates_sent"];
  for (const json& a : summary["actors"])
    for (const json& inst : a["instances"]) CHECK(inst["balanced"] == true);

  // The log: each version once per instance index, whichever of the lost instance and its
  // replacement put it in force (the replacement logs no point the lost one logged), version 2
  // from one source sequence.
  FilterRegistry store((dir / "filters.sqlite").string());
  std::map<std::string, std::multiset<int64_t>> by_index;  // "users#1" -> versions logged
  std::set<std::string> instances;
  std::set<int64_t> points;
  std::string log;
  for (const auto& e : store.effects(id)) {
    by_index[e.instance.substr(0, e.instance.find('@'))].insert(e.version);
    instances.insert(e.instance);
    if (e.version == 2) points.insert(e.source_sequence);
    log += " " + e.instance + " v" + std::to_string(e.version) + " from " + std::to_string(e.source_sequence);
  }
  MESSAGE("logged:" << log);
  const std::multiset<int64_t> each_once{1, 2};
  CHECK(by_index == std::map<std::string, std::multiset<int64_t>>{{"users#0", each_once}, {"users#1", each_once}});
  CHECK(instances.count("users#0@a") == 1);
  CHECK(instances.count("users#1@b") == 1);
  // Version 1 by the lost instance, version 2 by its replacement (the update came after b stopped).
  std::map<int64_t, std::set<std::string>> users_1_by_version;
  for (const auto& e : store.effects(id))
    if (e.instance.rfind("users#1@", 0) == 0) users_1_by_version[e.version].insert(e.instance);
  CHECK(users_1_by_version == std::map<int64_t, std::set<std::string>>{{1, {"users#1@b"}}, {2, {"users#1@a"}}});
  REQUIRE(points.size() == 1);
  // The replacement learnt where the lost instance's claim and log stood.
  CHECK(read_text(dir / "a.err").find("resumes instance 1's switch points") != std::string::npos);
  // Per version: every alert under one version, exactly what version 1 passes before one point
  // of the source's order and version 2 after; the replayed batches' alerts at most twice.
  const SourceOrder source = source_order(dir / "out");
  check_switch(dir / "out", source, answers(bright.v1, source.alerts), answers(bright.v2, source.alerts),
               bright.hook, "alice/bright",
               "b killed, switch at source batch " + std::to_string(*points.begin()) + ", " +
                   std::to_string(duplicates_sent) + " records sent again",
               // None tagged and not delivered: a message queued on b holds its batch there (its
               // stand-in token), so a message lost with b is of a batch a sends again
               // (docs/filters.md, "An output's messages on a node that is lost").
               duplicates_sent, 0);
  fs::remove_all(dir);
}

TEST_CASE("a slow webhook: the Kafka source's committed offset never passes an alert whose message was not delivered; "
          "after kill -9, a run from the committed offsets delivers the rest") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-slow-hook-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Four partitions: the embedded broker keeps ~5 MiB per partition, less than the 86 alerts.
  constexpr int kPartitions = 4;
  kafka::EmbeddedBroker broker;
  broker.create_topic("ztf", kPartitions);
  kafka::ReplayOptions replay;
  replay.inputs = {(test::data_dir() / "ztf").string()};
  replay.topic = "ztf";
  replay.brokers = broker.bootstrap_servers();
  REQUIRE(kafka::replay(replay).messages == 86);
  // Each message is one file of the real ZTF alerts: its alert, by the file's bytes.
  std::map<std::string, std::string> id_of_message;
  std::vector<std::shared_ptr<const Alert>> alerts;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(test::data_dir() / folder))
      if (e.path().extension() == ".avro") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<std::shared_ptr<const Alert>> decoded = test::ztf_alerts(folder);  // in the same order, one per file
    REQUIRE(decoded.size() == files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      id_of_message[test::read_file(files[i])] = std::to_string(decoded[i]->core().alert_id);
      alerts.push_back(decoded[i]);
    }
  }
  // Per partition, the alert at each offset.
  std::vector<std::map<int64_t, std::string>> at_offset(kPartitions);
  size_t messages_in_topic = 0;
  REQUIRE(test::read_topic_messages(broker.bootstrap_servers(), "ztf", kPartitions, [&](int p, int64_t offset, std::string value) {
    at_offset[p][offset] = id_of_message.at(value);
    ++messages_in_topic;
  }, std::chrono::seconds(60)) == kPartitions);
  REQUIRE(messages_in_topic == 86);

  // 80 ms per message: the webhook lags far behind the stream (4 alerts per batch, read at once).
  RecordingWebhook hook({.delay = std::chrono::milliseconds(80)});
  const std::string where = "mag < 19.5";
  add_alices_filter(dir / "filters.sqlite", "bright", where, hook);
  const Answers passes = answers(where, alerts);
  size_t passing = 0;
  for (const auto& [id, passed] : passes) passing += passed;
  REQUIRE(passing >= 40);
  REQUIRE(passing < 86);

  std::ofstream(dir / "wf.yaml") << "name: slow-hook\ndefaults: {batch_size: 4}\nactors:\n"
                                    "  - id: src\n    type: kafka\n"
                                    "    config: {topics: [ztf], group: slow, assign: true, bootstrap.servers: \""
                                 << broker.bootstrap_servers() << "\"}\n"
                                    "  - id: users\n    type: filters\n    inputs: [src.alerts]\n"
                                    "    config: {registry: filters.sqlite, tag: filters}\n"
                                    "  - id: kept\n    type: jsonl\n    inputs: [users.out]\n"
                                    "    config: {path: kept.jsonl, append: true, with_raw: false, fsync: false}\n";
  auto delivered_ids = [&] {
    std::set<std::string> out;
    for (const std::string& body : hook.bodies()) out.insert(alert_id_of(json::parse(body)["alert"]));
    return out;
  };
  // The first run (endless: no stop_at_end), watched: at every look, each passing alert below the
  // committed offset was delivered (the offset read first, then the deliveries, which only grow).
  int64_t committed_at_kill = 0;
  size_t looks = 0;
  std::string passed_undelivered;
  {
    test::Child run(ebs_flow() + " run wf.yaml --quiet --run-dir run", dir, dir / "run1.out", dir / "run1.err");
    const bool enough = test::wait_until([&] {
      const std::vector<int64_t> committed = test::committed_offsets(broker.bootstrap_servers(), "slow", "ztf", kPartitions);
      const std::set<std::string> delivered = delivered_ids();
      ++looks;
      int64_t total = 0;
      for (int p = 0; p < kPartitions; ++p) {
        total += std::max<int64_t>(0, committed[p]);
        for (const auto& [offset, id] : at_offset[p])
          if (offset < committed[p] && passes.at(id) && !delivered.count(id) && passed_undelivered.size() < 2000)
            passed_undelivered += " " + id + " (partition " + std::to_string(p) + " offset " + std::to_string(offset) +
                                  ", committed " + std::to_string(committed[p]) + ")";
      }
      committed_at_kill = total;
      return total >= 8 && delivered.size() >= 20;
    }, std::chrono::seconds(90));
    INFO(read_text(dir / "run1.err"));
    REQUIRE(enough);
    REQUIRE(run.stop(SIGKILL) == 128 + SIGKILL);
  }
  const size_t delivered_by_first = delivered_ids().size();
  MESSAGE("first run killed after " << delivered_by_first << " of " << passing << " messages delivered, committed offset "
                                    << committed_at_kill << ", " << looks << " looks");
  CHECK_MESSAGE(passed_undelivered.empty(), "committed past undelivered alerts:" << passed_undelivered);
  // Not everything had gone: the second run has something to deliver.
  CHECK(delivered_by_first < passing);

  // The second run starts from the committed offsets and stops at the end of the topic.
  test::CommandResult second =
      test::run_command(ebs_flow() + " run wf.yaml --quiet --run-dir run --set src.stop_at_end=true", dir);
  INFO(second.err);
  CHECK(second.exit_code == 0);
  CHECK(test::committed_messages(broker.bootstrap_servers(), "slow", "ztf", kPartitions) == 86);
  // Every passing alert's message delivered at least once across the two runs, no other; and the
  // alerts tagged (the `kept` sink, appended by both runs) are those.
  std::set<std::string> expected, tagged;
  for (const auto& [id, passed] : passes)
    if (passed) expected.insert(id);
  std::istringstream kept(read_text(dir / "run" / "kept.jsonl"));
  for (std::string line; std::getline(kept, line);) tagged.insert(alert_id_of(json::parse(line)));
  CHECK(tagged == expected);
  const std::set<std::string> delivered = delivered_ids();
  std::string missing;
  for (const std::string& id : expected)
    if (!delivered.count(id)) missing += " " + id;
  CHECK_MESSAGE(missing.empty(), "never delivered:" << missing);
  CHECK(std::includes(expected.begin(), expected.end(), delivered.begin(), delivered.end()));
  const size_t messages = hook.bodies().size();
  MESSAGE("across both runs: " << messages << " messages for " << expected.size() << " passing alerts (" << messages - delivered.size()
                               << " delivered again: read again after the kill)");
  fs::remove_all(dir);
}

TEST_CASE("a slow webhook still delivering at the end of the stream is waited for past drain_timeout_s: exit 0, every "
          "message delivered") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-slow-drain-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // 60 ms per message, every alert passing: ~5 s of deliveries after the stream ended, against a
  // drain bound of 2 s. The deliveries are the drain's progress, and no two are 2 x
  // output_timeout_ms (1.6 s) apart: the run waits for them all.
  RecordingWebhook hook({.delay = std::chrono::milliseconds(60)});
  add_alices_filter(dir / "filters.sqlite", "all", "mag < 99", hook);
  std::ofstream(dir / "wf.yaml") << "name: slow-drain\nactors:\n"
                                    "  - id: src\n    type: avro-files\n    config: {path: \""
                                 << (test::data_dir() / "ztf").string() << "\"}\n"
                                    "  - id: users\n    type: filters\n    inputs: [src.alerts]\n"
                                    "    config: {registry: filters.sqlite, output_timeout_ms: 800}\n"
                                    "  - id: kept\n    type: jsonl\n    inputs: [users.out]\n"
                                    "    config: {path: kept.jsonl, with_raw: false, fsync: false}\n";
  const auto started = std::chrono::steady_clock::now();
  test::CommandResult ran = test::run_command(ebs_flow() + " run wf.yaml --quiet --run-dir run --drain-timeout 2", dir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(ran.err);
  CHECK(ran.exit_code == 0);
  CHECK(ran.err.find("the drain did not end") == std::string::npos);
  CHECK(ran.err.find("abandoned") == std::string::npos);
  size_t kept = 0;
  std::istringstream lines(read_text(dir / "run" / "kept.jsonl"));
  for (std::string line; std::getline(lines, line);) ++kept;
  CHECK(kept >= 60);  // of the 86 alerts, those with a magnitude
  CHECK(hook.bodies().size() == kept);
  MESSAGE("the run took " << seconds << " s with a drain bound of 2 s");
  CHECK(seconds > 2);  // the drain outlasted its bound: the case this test is about
  fs::remove_all(dir);
}

TEST_CASE("on_node_loss: restart after an update: each attempt logs its own switch points; per attempt every alert under "
          "the version in force at its batch, none lost") {
  BrightUpdateCase bright("ebs-filters-restart");
  const fs::path& dir = bright.dir;
  const int64_t id = bright.alices.id;
  // The real ZTF alerts in one partition of the embedded broker: the offsets are the source's order,
  // and a restart reads again from the group's committed offset.
  kafka::EmbeddedBroker broker;
  broker.create_topic("alerts", 1);
  const auto published = test::run_command(ebs_flow() + " replay \"" + (test::data_dir() / "ztf").string() +
                                               "\" --topic alerts --brokers " + broker.bootstrap_servers(),
                                           dir);
  REQUIRE_MESSAGE(published.exit_code == 0, published.err);
  // The source and the sinks on a, users#1 on b (keyed by object: every source batch split between
  // users#0 on a and users#1 on b). The sinks append: the restart's attempt writes after the first's.
  std::ostringstream wf;
  wf << "name: filters-restart\non_node_loss: restart\nactors:\n"
     << "  - id: src\n    type: kafka\n    rate: 10\n    placement: {nodes: [a]}\n"
     << "    config: {topics: [alerts], group: restart, assign: true, stop_at_end: true, bootstrap.servers: \""
     << broker.bootstrap_servers() << "\"}\n"
     << "  - id: users\n    type: filters\n    parallelism: 2\n    placement: {nodes: [a, b], per_node: 1}\n"
     << "    inputs: [{from: src.alerts, partition: object_id}]\n    config: {registry: filters.sqlite, tag: filters}\n";
  for (const auto& [sink, from] : {std::pair{"seen", "src.alerts"}, std::pair{"kept", "users.out"}})
    wf << "  - id: " << sink << "\n    type: jsonl\n    inputs: [" << from << "]\n    placement: {nodes: [a]}\n"
       << "    config: {path: " << sink << ".jsonl, append: true, with_raw: false, fsync: false}\n";
  std::ofstream(dir / "workflow.yaml") << wf.str();
  // Once 20 alerts are at the `seen` sink (of ~70 at 10/s: the stream goes on for seconds after
  // the update), alice's update through the coordinator's API; once both instances logged version 2
  // (the API's effects list, its blanks taken out: an instance prints "takes effect" before it sends
  // the entry), b is stopped (so that it holds batches it had not handled) and killed: the run
  // restarts on a, its source from the committed offset.
  const std::string logged_version_2 =
      "logged_version_2() { curl -s -H 'Authorization: Bearer " + bright.alices.token + "' \"${url}api/filters/" +
      std::to_string(id) + "/effects\" | tr -d ' \\n' > effects.json && for n in 0@a 1@b; do " +
      R"(grep -q '"instance":"users#'$n'","source_sequence":[0-9]*,"version":2}' effects.json || return 1; done; })" + "\n";
  std::ofstream(dir / "script.sh")
      << test::script_waits() << test::start_nodes({"a", "b"}) << "\"$B\" run workflow.yaml --no-progress --nodes "
      << test::nodes_argument({"a", "b"})
      << " --http 127.0.0.1:0 --run-dir out --summary-json summary.json > run.out 2> run.err & echo $! > run.pid\n"
         "await 'the run to print its dashboard address in run.out' 60 has_dashboard run.out\nurl=$(dashboard run.out)\n"
         "seen_20() { [ \"$(cat out/seen.jsonl 2>/dev/null | wc -l)\" -ge 20 ]; }\n"
         "await '20 alerts at the seen sink (out/seen.jsonl)' 60 seen_20\n"
      << bright.update << logged_version_2
      << "await 'users#0@a and users#1@b to log version 2 (GET api/filters/ID/effects: effects.json)' 60 logged_version_2\n"
         "kill -STOP $(cat b.pid); sleep 0.5; kill -9 $(cat b.pid)\n"
         "wait $(cat run.pid); echo $? > run.rc\n"
      << test::await_nodes({"a", "b"}) << "exit 0\n";
  test::run_script(dir);
  const std::string err = read_text(dir / "run.err");
  INFO(err);
  INFO(read_text(dir / "a.err"));
  REQUIRE(test::rc(dir, "run") == 0);
  CHECK(test::rc(dir, "b") == 128 + 9);
  CHECK(json::parse(read_text(dir / "updated.json"), nullptr, false)["version"] == 2);
  const json summary = json::parse(read_text(dir / "summary.json"));
  REQUIRE(summary["cluster"]["lost_nodes"].size() == 1);
  CHECK(summary["cluster"]["lost_nodes"][0]["restarted"] == true);
  CHECK(summary["cluster"]["lost_nodes"][0]["placed_on"] == json({{"users/1", "a"}}));
  for (const json& a : summary["actors"])
    for (const json& inst : a["instances"]) CHECK_MESSAGE(inst["balanced"] == true, a["id"]);

  // The log, per attempt: the first (attempt 1) logged version 1 from 0 and version 2 from one
  // source sequence on both nodes; the restart's (attempt 2, numbering its batches from 1 again)
  // agreed its own first point, 0, with version 2 in force, logged by both instances, now on a.
  std::map<int64_t, std::map<int64_t, std::set<std::string>>> logged;  // attempt -> version -> instances
  std::map<int64_t, std::set<int64_t>> version_2_from;                 // attempt -> source sequences
  std::string log;
  for (const auto& e : FilterRegistry((dir / "filters.sqlite").string()).effects(id)) {
    logged[e.attempt][e.version].insert(e.instance);
    if (e.version == 2) version_2_from[e.attempt].insert(e.source_sequence);
    log += " attempt " + std::to_string(e.attempt) + " " + e.instance + " v" + std::to_string(e.version) + " from " +
           std::to_string(e.source_sequence);
  }
  MESSAGE("logged:" << log);
  using Logged = std::map<int64_t, std::set<std::string>>;
  CHECK(logged[1] == Logged{{1, {"users#0@a", "users#1@b"}}, {2, {"users#0@a", "users#1@b"}}});
  CHECK(logged[2] == Logged{{2, {"users#0@a", "users#1@a"}}});
  CHECK(logged.size() == 2);
  REQUIRE(version_2_from[1].size() == 1);
  CHECK(*version_2_from[1].begin() > 0);
  CHECK(version_2_from[2] == std::set<int64_t>{0});
  CHECK(read_text(dir / "a.err").find("takes effect from source batch 0 of attempt 2") != std::string::npos);

  // The source's order: the `seen` sink's rows by first appearance (the restart appended what it
  // read again). The embedded broker keeps ~5 MiB of a partition: the newest ~70 of the 86 alerts.
  std::vector<std::string> order, rows;
  std::set<std::string> in_order;
  std::istringstream seen(read_text(dir / "out" / "seen.jsonl"));
  for (std::string line; std::getline(seen, line);) {
    rows.push_back(alert_id_of(json::parse(line)));
    if (in_order.insert(rows.back()).second) order.push_back(rows.back());
  }
  std::vector<std::shared_ptr<const Alert>> alerts;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : test::ztf_alerts(folder)) alerts.push_back(a);
  REQUIRE(order.size() >= 50);
  // Where the restart's source resumed (a logs it: "from the committed offset N ...: offset N, lag
  // L"): the restart read the last L of them again, from `resumed` in the source's order.
  const std::string committed_at = "alerts/0 from the committed offset ";
  const std::string a_err = read_text(dir / "a.err");
  const size_t at = a_err.find(committed_at);
  REQUIRE(at != std::string::npos);
  const size_t lag_at = a_err.find(", lag ", at);
  REQUIRE(lag_at != std::string::npos);
  const size_t lag = std::stoul(a_err.substr(lag_at + 6));
  REQUIRE(lag <= order.size());
  const size_t resumed = order.size() - lag;
  CHECK(resumed > 0);  // the first attempt committed what its sinks wrote
  CHECK(resumed < order.size());
  // The restart read everything from `resumed` again, in order, after what the first attempt wrote
  // (at least up to `resumed`). The first attempt's `seen` sink may append a row it still held in
  // its file's buffer when its object goes, at the end of the node's run, after the restart's rows
  // (2 of 6 runs under load, 2026-12-05: rows 0-30 and the restart's 26-70, then 31): any row
  // after the restart's is one the first attempt read and did not commit (from `resumed` on).
  REQUIRE(rows.size() >= order.size());
  std::string rows_by_place;  // each row's place in the source's order, for a failure's message
  for (const std::string& row : rows)
    rows_by_place += " " + std::to_string(std::find(order.begin(), order.end(), row) - order.begin());
  INFO("the seen sink's rows by their place in the source's order:" << rows_by_place);
  const auto restart_rows = std::search(rows.begin() + static_cast<std::ptrdiff_t>(resumed), rows.end(),
                                        order.begin() + static_cast<std::ptrdiff_t>(resumed), order.end());
  REQUIRE(restart_rows != rows.end());
  const std::set<std::string> uncommitted(order.begin() + static_cast<std::ptrdiff_t>(resumed), order.end());
  for (auto late = restart_rows + static_cast<std::ptrdiff_t>(order.size() - resumed); late != rows.end(); ++late)
    CHECK(uncommitted.count(*late) == 1);
  const Answers a1 = answers(bright.v1, alerts), a2 = answers(bright.v2, alerts);

  // What the two attempts tagged (kept.jsonl) and the webhook got, as (alert, version) pairs.
  const TagsAndDeliveries pairs = tags_and_deliveries(dir / "out", bright.hook, "alice/bright");
  const std::set<std::pair<std::string, int>> tagged(pairs.tagged.begin(), pairs.tagged.end()),
      delivered(pairs.delivered.begin(), pairs.delivered.end());
  // Per attempt: the first evaluated the alerts before `resumed` (all of them written and committed)
  // by version 1 before one point of the source's order and version 2 after it, and maybe some after
  // `resumed` (written, not yet committed at the loss); the restart evaluated every alert from
  // `resumed` by version 2, in force from its first batch. So before `resumed` each alert is tagged
  // exactly as the first attempt's version at it answers, and from `resumed` on as version 2 answers,
  // and perhaps also as the first attempt's version answers: at least once, none lost.
  std::vector<size_t> cuts;
  for (size_t cut = 0; cut <= order.size(); ++cut) {
    bool fits = true;
    for (size_t i = 0; i < order.size() && fits; ++i) {
      const std::string& alert = order[i];
      const int first_version = i < cut ? 1 : 2;
      const bool first_passes = (i < cut ? a1 : a2).at(alert);
      std::set<int> versions;
      for (int v : {1, 2})
        if (tagged.count({alert, v})) versions.insert(v);
      std::set<int> must, may;
      if (i < resumed) {
        if (first_passes) must.insert(first_version);
      } else {
        if (a2.at(alert)) must.insert(2);
        if (first_passes) may.insert(first_version);
      }
      may.insert(must.begin(), must.end());
      fits = std::includes(versions.begin(), versions.end(), must.begin(), must.end()) &&
             std::includes(may.begin(), may.end(), versions.begin(), versions.end());
    }
    if (fits) cuts.push_back(cut);
  }
  size_t by_version[3] = {0, 0, 0};
  for (const auto& [alert, version] : tagged) ++by_version[version];
  MESSAGE("b killed, attempt 1 switched at source batch " << *version_2_from[1].begin() << ", the restart resumed at "
                                                          << resumed << " of " << order.size() << "; tagged "
                                                          << by_version[1] << " by version 1, " << by_version[2]
                                                          << " by version 2; " << cuts.size() << " cuts fit");
  CHECK(!cuts.empty());
  CHECK(by_version[1] > 0);
  // Nothing delivered that was not tagged under its version; what the restart tagged all delivered
  // (from `resumed`, version 2); of the first attempt's, at most what b's queue held when it died.
  CHECK(std::includes(tagged.begin(), tagged.end(), delivered.begin(), delivered.end()));
  size_t undelivered = 0;
  for (size_t i = 0; i < order.size(); ++i)
    if (i >= resumed && a2.at(order[i])) CHECK_MESSAGE(delivered.count({order[i], 2}) == 1, order[i]);
  for (const auto& pair : tagged) undelivered += delivered.count(pair) == 0;
  CHECK(undelivered <= 20);
  fs::remove_all(dir);
}

TEST_CASE("a coordinator frozen while the filters instances on the nodes wait for a claim: their requests fail as the "
          "nodes notice, not after the 10 s time-out") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-coordinator-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  RecordingWebhook hook;
  add_alices_filter(dir / "filters.sqlite", "bright", "mag < 18.5", hook);
  // users#0 on a, users#1 on b; the coordinator (the run's process) is stopped once records flow:
  // every instance claims about four times a second, so each soon waits for an answer that never
  // comes. The nodes notice the frozen coordinator by the heartbeats (4.5 s) and stop; the waiting
  // requests end then too (the asker monitors the server), not 10 s after they were sent.
  std::ofstream(dir / "workflow.yaml") << two_instances_workflow("name: filters-coordinator\n", 20, "a", "b");
  std::ofstream(dir / "script.sh")
      << test::script_waits() << test::start_nodes({"a", "b"}) << "\"$B\" run workflow.yaml --no-progress --nodes "
      << test::nodes_argument({"a", "b"}) << " --run-dir out > run.out 2> run.err & echo $! > run.pid\n"
         "kept_written() { [ -s out/kept.jsonl ]; }\n"
         "await 'a first tagged record at the kept sink (out/kept.jsonl)' 60 kept_written\n"
         "sleep 0.3; date +%s.%N > stop.time; kill -STOP $(cat run.pid)\n"
         "for n in a b; do ( sleep 60; kill -9 $(cat $n.pid) 2>/dev/null ) & w=$!; wait $(cat $n.pid); echo $? > $n.rc; "
         "date +%s.%N > $n.exit; kill $w 2>/dev/null; done\n"
         "kill -9 $(cat run.pid); kill -CONT $(cat run.pid); wait $(cat run.pid); echo $? > run.rc\nexit 0\n";
  test::run_script(dir);
  INFO(read_text(dir / "a.err"));
  INFO(read_text(dir / "b.err"));
  const double stopped = std::stod(read_text(dir / "stop.time"));
  for (const std::string node : {"a", "b"}) {
    CAPTURE(node);
    CHECK(test::rc(dir, node) == 1);
    const double exited_s = std::stod(read_text(dir / (node + ".exit"))) - stopped;
    MESSAGE("node " << node << " exited " << exited_s << " s after the coordinator was stopped");
    // Noticed by the heartbeats within 4.5 s (then the teardown, slower on a loaded machine). A
    // node's actor system ends once its instances have: an instance waiting for a claim's answer
    // until its time-out held its node until 10 s after the claim was sent, at or after the stop
    // (the node's log does not say why an instance's batch failed then: its run is being torn down).
    CHECK(exited_s < 8);
  }
  fs::remove_all(dir);
}

TEST_CASE("a failing webhook's messages are dead letters with the bytes a working output of the same filter got; the "
          "other filters' outputs are complete") {
  fs::path dir = fs::temp_directory_path() / ("ebs-filters-dead-letters-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Carol's filter sends every alert to two webhooks: one that works and one that answers 500 after
  // 300 ms (so that messages queue behind the failing request, and later ones are refused before
  // the filter leaves). Both outputs are offered the same messages, so what the working one got is
  // what the failing one gave up on. Dave's filter, beside hers, must deliver all it passes. Erin's
  // limit is 0 alerts/s: her webhook gets nothing, every message of hers counted as rate-limited.
  RecordingWebhook good, failing({.status = 500, .delay = std::chrono::milliseconds(300)}), daves, erins;
  const std::string dave_where = "mag < 18.5", erin_where = "mag < 19";
  int64_t carol_id = 0, erin_id = 0;
  {
    FilterRegistry store((dir / "filters.sqlite").string());
    Limits generous;
    generous.max_alerts_per_second = 10000;
    User carol = ok(store.create_user("carol", false, generous));
    User dave = ok(store.create_user("dave", false, generous));
    carol_id = ok(store.create_filter(carol, "all", "mag < 99",
                                      {{Output::Kind::webhook, good.url()}, {Output::Kind::webhook, failing.url()}}))
                   .id;
    ok(store.create_filter(dave, "bright", dave_where, {{Output::Kind::webhook, daves.url()}}));
    Limits silent;
    silent.max_alerts_per_second = 0;
    User erin = ok(store.create_user("erin", false, silent));
    erin_id = ok(store.create_filter(erin, "faint", erin_where, {{Output::Kind::webhook, erins.url()}})).id;
  }
  std::ofstream(dir / "wf.yaml") << "name: undelivered\nactors:\n"
                                    "  - id: src\n    type: avro-files\n    rate: 40\n    config: {path: \""
                                 << (test::data_dir() / "ztf").string() << "\"}\n"
                                    "  - id: users\n    type: filters\n    inputs: [src.alerts]\n"
                                    "    config: {registry: filters.sqlite, output_timeout_ms: 3000}\n"
                                    "  - id: seen\n    type: jsonl\n    inputs: [src.alerts]\n"
                                    "    config: {path: seen.jsonl, with_raw: false, fsync: false}\n"
                                    // A repository for `serve` to serve beside the filter API below.
                                    "  - id: repo\n    type: repository\n    inputs: [src.alerts]\n"
                                    "    config: {path: repo.sqlite}\n";
  test::CommandResult ran =
      test::run_command(ebs_flow() + " run wf.yaml --quiet --run-dir run --summary-json summary.json", dir);
  INFO(ran.out);
  INFO(ran.err);
  CHECK(ran.exit_code == 0);

  // The failing webhook's letters: the users actor's, kind `undelivered`, naming the filter, the
  // output (the failing one) and the alert; their originals, decoded, the messages' bytes.
  std::multiset<std::string> lettered;
  size_t refused = 0;
  std::istringstream letters(read_text(dir / "run" / "dead-letters.jsonl"));
  for (std::string line; std::getline(letters, line);) {
    json letter = json::parse(line);
    REQUIRE(letter["actor"] == "users");
    CHECK(letter["kind"] == "undelivered");
    CHECK(letter["original_format"] == "bytes");
    const std::string place = letter["place"], reason = letter["reason"];
    CHECK(place.starts_with("webhook " + failing.url() + ": filter " + std::to_string(carol_id) + " v1 (carol/all), alert "));
    CHECK(reason.find("HTTP 500") != std::string::npos);
    refused += reason.starts_with("refused: the output had failed: ");
    std::string bytes = base64_decode(letter["original"].get<std::string>(), place);
    // The place names the alert the message carries.
    CHECK(place.find("alert " + alert_id_of(json::parse(bytes)["alert"]) + " (") != std::string::npos);
    lettered.insert(std::move(bytes));
  }
  const std::vector<std::string> good_bodies = good.bodies();
  const std::multiset<std::string> delivered(good_bodies.begin(), good_bodies.end());
  size_t bytes = 0;
  for (const std::string& m : lettered) bytes += m.size();
  MESSAGE(lettered.size() << " messages dead-lettered (" << refused << " refused after the failure), "
                          << delivered.size() << " delivered by the working output; "
                          << (lettered.empty() ? 0 : bytes / lettered.size()) << " bytes per message on average");
  CHECK(lettered.size() >= 2);
  CHECK(lettered == delivered);  // byte for byte, each as often
  const std::vector<std::string> failing_bodies = failing.bodies();
  CHECK(failing_bodies.size() == 1);  // the first request failed the output: nothing more was sent
  CHECK(lettered.count(failing_bodies.front()) == 1);

  // The books: the letters counted apart from the identity, which holds.
  json summary = json::parse(read_text(dir / "summary.json"));
  bool found = false;
  for (const json& a : summary["actors"])
    if (a["id"] == "users") {
      found = true;
      CHECK(a["output_dead_letters"] == lettered.size());
      CHECK(a["dead_letters"] == lettered.size());
      CHECK(a["failed"] == 0);
      CHECK(a["balanced"] == true);
    }
  CHECK(found);
  CHECK(summary["accounting_ok"] == true);
  const std::string closing = ran.out + ran.err;  // the closing block (stderr)
  CHECK(closing.find(std::to_string(lettered.size()) + " sent as dead letters") != std::string::npos);
  CHECK(closing.find("dead letters: " + std::to_string(lettered.size()) + " in ") != std::string::npos);

  // Carol's filter is paused with the reason; Dave's webhook got every alert his filter passes.
  FilterRegistry store((dir / "filters.sqlite").string());
  User root = ok(store.create_user("root", true, Limits{}));
  const std::string paused_reason = ok(store.filter(root, carol_id)).paused_reason;
  CHECK(paused_reason.find("HTTP 500") != std::string::npos);
  CHECK(paused_reason.find("dead letters, kind `undelivered`") != std::string::npos);
  const SourceOrder source = source_order(dir / "run");
  auto passes = answers(dave_where, source.alerts);
  std::multiset<std::string> expected_dave, got_dave;
  for (const std::string& id : source.ids)
    if (passes[id]) expected_dave.insert(id);
  for (const std::string& body : daves.bodies()) got_dave.insert(alert_id_of(json::parse(body)["alert"]));
  CHECK(!expected_dave.empty());
  CHECK(got_dave == expected_dave);

  // The filter's status counts what became of each output's messages: in the store, and through
  // the API (`ebs-flow filters list` against `serve`).
  const Filter carols = ok(store.filter(root, carol_id));
  REQUIRE(carols.output_counts.size() == 2);
  CHECK(carols.output_counts[0].delivered == static_cast<int64_t>(delivered.size()));
  CHECK(carols.output_counts[0].dead_lettered == 0);
  CHECK(carols.output_counts[1].delivered == 0);
  CHECK(carols.output_counts[1].dead_lettered == static_cast<int64_t>(lettered.size()));
  CHECK(carols.output_counts[1].lost == 0);
  CHECK(carols.output_counts[0].rate_limited == 0);
  CHECK(carols.output_counts[1].rate_limited == 0);
  // Erin's: every alert her filter passed was dropped at her limit, never sent.
  const auto erin_passes = answers(erin_where, source.alerts);
  int64_t erin_passed = 0;
  for (const std::string& id : source.ids) erin_passed += erin_passes.at(id);
  REQUIRE(erin_passed > 0);
  CHECK(erins.requests() == 0);
  CHECK(ok(store.filter(root, erin_id)).output_counts == std::vector<OutputCounts>{{0, 0, 0, erin_passed}});
  const std::string root_token = ok(store.issue_token("root", false));
  {
    test::Child serve(ebs_flow() + " serve run/repo.sqlite --filters filters.sqlite --http 127.0.0.1:0", dir,
                      dir / "serve-out.txt", dir / "serve-err.txt");
    INFO(read_text(dir / "serve-err.txt"));
    const std::string url = serving_url(dir / "serve-out.txt");
    test::CommandResult listed =
        test::run_command(ebs_flow() + " filters list --url " + url + " --token " + root_token, dir);
    INFO(listed.err);
    REQUIRE(listed.exit_code == 0);
    bool listed_carol = false, listed_erin = false;
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
      const json f = json::parse(line);
      if (f["id"] == erin_id) {
        listed_erin = true;
        CHECK(f["state"] == "active");
        CHECK(f["outputs"][0]["delivered"] == 0);
        CHECK(f["outputs"][0]["rate_limited"] == erin_passed);
      }
      if (f["id"] != carol_id) continue;
      listed_carol = true;
      CHECK(f["state"] == "paused");
      CHECK(f["outputs"][0]["target"] == good.url());
      CHECK(f["outputs"][0]["delivered"] == delivered.size());
      CHECK(f["outputs"][0]["dead_lettered"] == 0);
      CHECK(f["outputs"][1]["target"] == failing.url());
      CHECK(f["outputs"][1]["delivered"] == 0);
      CHECK(f["outputs"][1]["dead_lettered"] == lettered.size());
      CHECK(f["outputs"][1]["lost"] == 0);
    }
    CHECK(listed_carol);
    CHECK(listed_erin);
  }

  // Sent again once the webhook works (`ebs-flow filters replay --to-webhook`; the failing peer's
  // letters name its own port, so --all-outputs): the working peer gets exactly the letters'
  // messages; a peer that still fails gets one, and the rest is not sent. A URL no letter names
  // selects nothing: exit 1, nothing sent.
  RecordingWebhook fixed;
  test::CommandResult replayed = test::run_command(
      ebs_flow() + " filters replay run/dead-letters.jsonl --all-outputs --to-webhook " + fixed.url() + "?token=s3cret",
      dir);
  INFO(replayed.err);
  CHECK(replayed.exit_code == 0);
  const json replay_counts = json::parse(replayed.out);
  CHECK(replay_counts["webhook"] == fixed.url() + "?...");
  CHECK(replay_counts["messages"] == lettered.size());
  CHECK(replay_counts["bytes"] == bytes);
  CHECK(replay_counts["skipped"] == 0);
  CHECK(replay_counts["not_sent"] == 0);
  const std::vector<std::string> fixed_bodies = fixed.bodies();
  CHECK(std::multiset<std::string>(fixed_bodies.begin(), fixed_bodies.end()) == lettered);
  RecordingWebhook still_failing({.status = 503});
  test::CommandResult not_sent = test::run_command(
      ebs_flow() + " filters replay run/dead-letters.jsonl --all-outputs --to-webhook " + still_failing.url(), dir);
  CHECK(not_sent.exit_code == 1);
  CHECK(json::parse(not_sent.out)["messages"] == 0);
  CHECK(json::parse(not_sent.out)["not_sent"] == lettered.size());
  CHECK(not_sent.err.find(std::to_string(lettered.size()) + " messages not sent: webhook " + still_failing.url() +
                         ": HTTP 503: {}") != std::string::npos);
  CHECK(still_failing.bodies().size() == 1);  // the first refusal stops the replay
  test::CommandResult none = test::run_command(
      ebs_flow() + " filters replay run/dead-letters.jsonl --to-webhook " + still_failing.url(), dir);
  CHECK(none.exit_code == 1);
  CHECK(none.out.empty());
  CHECK(none.err.find("no undelivered letter of the webhook output " + still_failing.url()) != std::string::npos);
  CHECK(still_failing.bodies().size() == 1);
  fs::remove_all(dir);
}
