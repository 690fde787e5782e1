#include "actors/common/ingest/message_ingester.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "actors/common/avro/container_file.h"
#include "test/support/test_data.h"

namespace ebs::ingest {

namespace {

std::shared_ptr<const std::string> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return std::make_shared<const std::string>(s.str());
}

// A Confluent frame (magic 0, big-endian schema id, datum) from a one-record container file
// with the null codec: the datum is the block's data.
std::string confluent_frame(const std::string& container, uint32_t schema_id);

}  // namespace

TEST_CASE("a ZTF container message becomes one Alert; a corrupt one a failure with its place and bytes") {
  MessageIngester ingester({std::make_shared<avro::SchemaCache>(), nullptr, nullptr}, profiles::ProfileSet::builtin());
  auto path = test::data_dir() / "ztf/kowalski-v3.3-v4.01/2475433850015010009.avro";
  auto bytes = file_bytes(path);
  std::vector<RecordPtr> alerts;
  std::vector<IngestFailure> failures;
  ingester.ingest(bytes, "topic/0/17", alerts, failures);
  REQUIRE(alerts.size() == 1);
  CHECK(failures.empty());
  const auto& alert = static_cast<const Alert&>(*alerts[0]);
  CHECK(alert.core().alert_id == 2475433850015010009u);
  CHECK(alert.key() == "ZTF17aadcvhq");

  auto truncated = std::make_shared<const std::string>(bytes->substr(0, bytes->size() / 2));
  alerts.clear();
  ingester.ingest(truncated, "topic/0/18", alerts, failures);
  CHECK(alerts.empty());
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].fault.place().starts_with("topic/0/18:byte "));
  CHECK(failures[0].original == *truncated);
  CHECK(failures[0].original_format == "avro");

  ingester.ingest(std::make_shared<const std::string>("not avro"), "topic/1/0", alerts, failures);
  REQUIRE(failures.size() == 2);
  CHECK(failures[1].fault.place() == "topic/1/0:byte 0");
}

TEST_CASE("Rubin Confluent frames decode with a schema directory and map through rubin-v11") {
  auto schemas = std::make_shared<const avro::SchemaDirectory>(avro::SchemaDirectory::load(test::data_dir() / "lsst/schema"));
  MessageIngester ingester({std::make_shared<avro::SchemaCache>(), schemas, nullptr}, profiles::ProfileSet::builtin());
  for (int v : {9, 10, 11}) {
    auto container = file_bytes(test::data_dir() / ("lsst/schema/" + std::to_string(v) + "/0/sample_data/fakeAlert.avro"));
    auto frame = std::make_shared<const std::string>(confluent_frame(*container, static_cast<uint32_t>(v * 100)));
    std::vector<RecordPtr> alerts;
    std::vector<IngestFailure> failures;
    ingester.ingest(frame, "lsst-alerts/0/" + std::to_string(v), alerts, failures);
    INFO(v, (failures.empty() ? "" : failures[0].fault.what()));
    REQUIRE(alerts.size() == 1);
    CHECK(static_cast<const Alert&>(*alerts[0]).core().schema_version == std::to_string(v) + ".0");
  }
}

TEST_CASE("a record its profile rejects fails alone, with the record's place") {
  // Forced onto the PGIR profile, a Rubin record has no candidate.ra.
  auto set = profiles::ProfileSet::builtin();
  set.force("pgir", "test");
  MessageIngester ingester({std::make_shared<avro::SchemaCache>(), nullptr, nullptr}, std::move(set));
  auto bytes = file_bytes(test::data_dir() / "lsst/schema/11/0/sample_data/fakeAlert.avro");
  std::vector<RecordPtr> alerts;
  std::vector<IngestFailure> failures;
  ingester.ingest(bytes, "rubin.avro", alerts, failures);
  CHECK(alerts.empty());
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].fault.place() == "rubin.avro record 0");
  CHECK(failures[0].fault.message() == "profile pgir: alert_id (candid) is missing");  // the first value it reads
  CHECK(failures[0].original == *bytes);

  // After an earlier message's failure in the same batch (as avro-files reads several files into
  // one), a one-record file no profile accepts still keeps its bytes, not JSON.
  ingester.ingest(bytes, "rubin-again.avro", alerts, failures);
  REQUIRE(failures.size() == 2);
  CHECK(failures[1].original_format == "avro");
  CHECK(failures[1].original == *bytes);

  // A failed record keeps nothing of its message once ingest returns (a Kafka source's viewed
  // message: its fetch buffer would stay pinned until the next message).
  auto kept = std::make_shared<const std::string>(*bytes);
  ingester.ingest(std::string_view(*kept), kept, "rubin-view.avro", alerts, failures);
  REQUIRE(failures.size() == 3);
  CHECK(kept.use_count() == 1);
}

namespace {

std::string confluent_frame(const std::string& container, uint32_t schema_id) {
  avro::ContainerHeader header = avro::read_container_header(container, "sample");
  avro::ContainerBlocks blocks(container, header, "sample");
  avro::ContainerBlock block;
  REQUIRE(blocks.next(block));
  REQUIRE(block.object_count == 1);
  std::string frame(5, '\0');
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<char>((schema_id >> (24 - 8 * i)) & 0xff);
  frame.append(block.data);
  return frame;
}

}  // namespace

}  // namespace ebs::ingest
