#include "actors/common/avro/schema_registry_client.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <atomic>
#include <chrono>
#include <thread>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/decoder.h"
#include "actors/common/avro/json_output.h"
#include "actors/common/avro/schema_directory.h"
#include "engine/util/fault.h"

using namespace ebs::avro;

namespace {

// A real HTTP schema registry on loopback, serving the inlined Rubin schemas.
class LoopbackRegistry {
 public:
  explicit LoopbackRegistry(const SchemaDirectory& schemas) {
    server_.Get(R"(/schemas/ids/(\d+))", [&schemas, this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      auto text = schemas.schema_text(static_cast<uint32_t>(std::stoul(req.matches[1])));
      if (!text) {
        res.status = 404;
        res.set_content(R"({"error_code": 40403, "message": "Schema not found"})", "application/json");
        return;
      }
      res.set_content(nlohmann::json{{"schema", std::string(*text)}}.dump(), "application/vnd.schemaregistry.v1+json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~LoopbackRegistry() { stop(); }
  void stop() {
    // httplib's stop() is a no-op until the listening thread runs: wait for it (bounded).
    for (int i = 0; i < 500 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests = 0;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE("SchemaRegistryClient fetches schemas over HTTP and caches them by id") {
  auto schemas = SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema");
  LoopbackRegistry server(schemas);
  SchemaRegistryClient client(server.url() + "/");
  auto text = client.schema_text(1100);
  CHECK(*text == *schemas.schema_text(1100));
  CHECK(client.schema_text(1100) == text);
  CHECK(client.fetches() == 1);
  CHECK(server.requests == 1);
  try {
    client.schema_text(4242);
    FAIL("unknown id accepted");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::failed);
    CHECK(f.place() == server.url() + "/schemas/ids/4242");
    CHECK(f.message() == "unknown schema id 4242");
  }

  // A Confluent-framed Rubin v11 alert decodes through the registry.
  auto frame = std::make_shared<const std::string>(testing::confluent_frame(
      1100, testing::single_record_body(*testing::read_file(testing::rubin_fake_alert(11)))));
  auto registry = std::make_shared<SchemaRegistryClient>(server.url());
  Decoder decoder(DecoderSources{std::make_shared<SchemaCache>(), nullptr, registry});
  std::vector<ebs::RawRecord> records;
  decoder.decode(frame, "lsst-alerts/0/17", records);
  decoder.decode(frame, "lsst-alerts/0/18", records);
  REQUIRE(records.size() == 2);
  // The same record as the fakeAlert container file holds.
  std::vector<ebs::RawRecord> from_file;
  Decoder().decode(testing::read_file(testing::rubin_fake_alert(11)), "fakeAlert", from_file);
  CHECK(to_json(records[1], true) == to_json(from_file[0], true));
  CHECK(records[0].path("diaSource.diaSourceId").as_int().has_value());
  CHECK(registry->fetches() == 1);
  // An id the registry does not know: a failed fault placed at the message.
  auto unknown = std::make_shared<const std::string>(testing::confluent_frame(4242, "\x02"));
  try {
    decoder.decode(unknown, "lsst-alerts/0/19", records);
    FAIL("unknown id accepted");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::failed);
    CHECK(f.place() == "lsst-alerts/0/19:byte 1");
    CHECK(f.message() == "unknown schema id 4242 (" + server.url() + "/schemas/ids/4242)");
  }
}

TEST_CASE("A registry that does not answer is a disconnected fault") {
  auto schemas = SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema");
  std::string url;
  {
    LoopbackRegistry server(schemas);
    url = server.url();
  }  // stopped: nothing listens on the port any more
  SchemaRegistryClient client(url, std::chrono::milliseconds(2000));
  try {
    client.schema_text(1100);
    FAIL("no fault");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::disconnected);
    CHECK(f.place() == url + "/schemas/ids/1100");
    CHECK(f.message().find("schema registry unreachable") == 0);
  }
  auto frame = std::make_shared<const std::string>(testing::confluent_frame(1100, "\x02"));
  Decoder decoder(DecoderSources{std::make_shared<SchemaCache>(), nullptr,
                                 std::make_shared<SchemaRegistryClient>(url, std::chrono::milliseconds(2000))});
  std::vector<ebs::RawRecord> records;
  try {
    decoder.decode(frame, "t/0/1", records);
    FAIL("no fault");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::disconnected);
    CHECK(f.place() == "t/0/1:byte 1");
  }
}

namespace {

// A registry whose behaviour the test switches: answer, fail with HTTP 503, or hang.
class SwitchableRegistry {
 public:
  enum class Mode { answer, unavailable, hang };

  explicit SwitchableRegistry(std::string_view schema) : schema_(schema) {
    server_.Get(R"(/schemas/ids/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      Mode mode = this->mode.load();
      if (mode == Mode::hang) {
        for (int i = 0; i < 100 && this->mode.load() == Mode::hang; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (mode == Mode::unavailable) {
        res.status = 503;
        return;
      }
      if (std::stoul(req.matches[1]) != 1100) {
        res.status = 404;
        res.set_content(R"({"error_code": 40403, "message": "Schema not found"})", "application/json");
        return;
      }
      res.set_content(nlohmann::json{{"schema", schema_}}.dump(), "application/vnd.schemaregistry.v1+json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~SwitchableRegistry() {
    mode = Mode::answer;
    for (int i = 0; i < 500 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::atomic<int> requests{0};
  std::atomic<Mode> mode{Mode::answer};

 private:
  std::string schema_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

ebs::FaultKind fault_kind(SchemaRegistryClient& client, uint32_t id) {
  try {
    client.schema_text(id);
  } catch (const ebs::Fault& f) {
    return f.kind();
  }
  FAIL("no fault for id " << id);
  return ebs::FaultKind::failed;
}

}  // namespace

TEST_CASE("An id the registry does not know is not asked again for every message (negative cache)") {
  auto schemas = SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema");
  SwitchableRegistry server(*schemas.schema_text(1100));
  SchemaRegistryOptions options;
  options.unknown_id_ttl = std::chrono::milliseconds(400);
  auto registry = std::make_shared<SchemaRegistryClient>(server.url(), options);
  Decoder decoder(DecoderSources{std::make_shared<SchemaCache>(), nullptr, registry});

  // 50 messages of an unknown id, between real Rubin v11 alerts: one request for the unknown id.
  auto unknown = std::make_shared<const std::string>(testing::confluent_frame(4242, "\x02"));
  auto known = std::make_shared<const std::string>(testing::confluent_frame(
      1100, testing::single_record_body(*testing::read_file(testing::rubin_fake_alert(11)))));
  std::vector<ebs::RawRecord> records;
  int failed = 0;
  for (int offset = 0; offset < 50; ++offset) {
    decoder.decode(known, "lsst-alerts/0/" + std::to_string(2 * offset), records);
    try {
      decoder.decode(unknown, "lsst-alerts/0/" + std::to_string(2 * offset + 1), records);
    } catch (const ebs::Fault& f) {
      ++failed;
      CHECK(f.kind() == ebs::FaultKind::failed);
      CHECK(f.place() == "lsst-alerts/0/" + std::to_string(2 * offset + 1) + ":byte 1");
      CHECK(f.message() == "unknown schema id 4242 (" + server.url() + "/schemas/ids/4242)");
    }
  }
  CHECK(failed == 50);
  CHECK(records.size() == 50);
  CHECK(server.requests == 2);  // 1100 once, 4242 once
  CHECK(registry->fetches() == 2);

  // After the time to live the registry is asked again (the id may have been registered since).
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  CHECK(fault_kind(*registry, 4242) == ebs::FaultKind::failed);
  CHECK(server.requests == 3);
  CHECK(fault_kind(*registry, 4242) == ebs::FaultKind::failed);
  CHECK(server.requests == 3);
}

TEST_CASE("A registry that fails to answer is backed off: disconnected at once, then asked again") {
  auto schemas = SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema");
  SwitchableRegistry server(*schemas.schema_text(1100));
  SchemaRegistryOptions options;
  options.timeout = std::chrono::milliseconds(200);
  options.retry_initial = std::chrono::milliseconds(300);
  options.retry_max = std::chrono::milliseconds(1000);
  SchemaRegistryClient client(server.url(), options);

  SUBCASE("HTTP 503") {
    server.mode = SwitchableRegistry::Mode::unavailable;
    CHECK(fault_kind(client, 1100) == ebs::FaultKind::disconnected);
    CHECK(server.requests == 1);
  }
  SUBCASE("no answer within the time-out") {
    server.mode = SwitchableRegistry::Mode::hang;
    auto start = std::chrono::steady_clock::now();
    CHECK(fault_kind(client, 1100) == ebs::FaultKind::disconnected);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(150));
    // A thousand messages within the back-off: no request, no time-out each.
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) CHECK(fault_kind(client, 1100 + i % 3) == ebs::FaultKind::disconnected);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(250));
  }
  int after_first = server.requests;
  try {
    client.schema_text(1100);
    FAIL("no fault");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::disconnected);
    CHECK(f.place() == server.url() + "/schemas/ids/1100");
    CHECK(f.message().find("schema registry unreachable: ") == 0);
    CHECK(f.message().find("next attempt in") != std::string::npos);
  }
  CHECK(server.requests == after_first);  // not asked within the back-off
  CHECK(client.fetches() == 1);

  // Still failing after the back-off: asked once more, and the back-off doubles (300 -> 600 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  CHECK(fault_kind(client, 1100) == ebs::FaultKind::disconnected);
  CHECK(client.fetches() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(fault_kind(client, 1100) == ebs::FaultKind::disconnected);  // 600 ms not over yet
  CHECK(client.fetches() == 2);

  // The registry recovers: after the back-off the schema comes, and failures start afresh.
  server.mode = SwitchableRegistry::Mode::answer;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(*client.schema_text(1100) == *schemas.schema_text(1100));
  CHECK(client.fetches() == 3);
}
