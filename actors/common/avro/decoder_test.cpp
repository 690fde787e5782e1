#include "actors/common/avro/decoder.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include "test/support/avro_test_files.h"
#include "actors/common/avro/byte_reader.h"
#include "actors/common/avro/json_output.h"
#include "actors/common/avro/libavro_reference.h"
#include "engine/model/raw_node_bytes.h"
#include "engine/util/fault.h"

using namespace ebs::avro;
namespace fs = std::filesystem;

namespace {

// Decodes `path` and compares every record, field by field, with libavro's generic reading.
size_t check_against_libavro(Decoder& decoder, const fs::path& path) {
  auto bytes = testing::read_file(path);
  std::vector<ebs::RawRecord> records;
  decoder.decode(bytes, path.string(), records);
  size_t index = 0;
  reference::for_each_record(*bytes, [&](avro_value_t& expected) {
    REQUIRE(index < records.size());
    std::string difference = reference::compare(expected, records[index].root());
    CHECK_MESSAGE(difference.empty(), path.string() << " record " << index << ": " << difference);
    // bytes(), counted while decoding: the nodes and the texts they view.
    CHECK(records[index].bytes() == ebs::bytes_of_nodes(records[index].nodes()));
    ++index;
  });
  CHECK(index == records.size());
  return records.size();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("ebs-avro-test-" + std::to_string(getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// Decoding must either succeed or raise a Fault naming the input and a byte offset.
void decode_or_fault(Decoder& decoder, const std::string& bytes, const std::string& place) {
  std::vector<ebs::RawRecord> records;
  try {
    decoder.decode(std::make_shared<const std::string>(bytes), place, records);
  } catch (const ebs::Fault& f) {
    bool names_place = f.place().rfind(place + ":", 0) == 0;
    CHECK_MESSAGE(names_place, f.what());
    bool has_offset = f.place().find(":byte ") != std::string::npos ||
                      f.place().find(":schema id ") != std::string::npos;
    CHECK_MESSAGE(has_offset, f.what());
  }
}

}  // namespace

TEST_CASE("Every shared alert decodes exactly as libavro reads it") {
  Decoder decoder;
  size_t files = 0, records = 0;
  for (const char* dir : {"ztf", "other-surveys", "lsst"}) {
    for (const auto& path : testing::avro_files(dir)) {
      records += check_against_libavro(decoder, path);
      ++files;
    }
  }
  CHECK(files == 50 + 36 + 17 + 11 + 100 + 3);
  CHECK(records == files);
}

TEST_CASE("Deflate and snappy containers written by libavro decode to the same values") {
  TempDir tmp;
  Decoder decoder;
  std::vector<fs::path> sample;
  for (const char* dir : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01", "other-surveys/pgir",
                          "other-surveys/turbo", "lsst/rubin-lsstcam-v9-spark"})
    for (const auto& path : testing::avro_files(dir)) sample.push_back(path);
  for (const char* codec : {"deflate", "snappy"}) {
    for (const auto& path : sample) {
      CAPTURE(path);
      fs::path out = tmp.path / (path.stem().string() + "." + codec + ".avro");
      reference::rewrite_with_codec({path.string()}, out.string(), codec);
      auto header = read_container_header(*testing::read_file(out), out.string());
      CHECK(header.codec == (std::string_view(codec) == "deflate" ? Codec::deflate : Codec::snappy));
      // The null-codec original matches libavro (test above): the re-encoded file must decode
      // to exactly the same values, bytes included.
      std::vector<ebs::RawRecord> original, recoded;
      decoder.decode(testing::read_file(path), path.string(), original);
      decoder.decode(testing::read_file(out), out.string(), recoded);
      REQUIRE(recoded.size() == 1);
      CHECK(to_json(recoded[0], true) == to_json(original[0], true));
    }
  }
}

TEST_CASE("A container with many records in several blocks") {
  TempDir tmp;
  auto inputs = testing::avro_files("ztf/fink-20200101-v3.3");
  std::vector<std::string> paths;
  for (const auto& p : inputs) paths.push_back(p.string());
  for (const char* codec : {"null", "deflate", "snappy"}) {
    fs::path out = tmp.path / (std::string("many.") + codec + ".avro");
    reference::rewrite_with_codec(paths, out.string(), codec, 256 * 1024);  // ~4 alerts a block
    auto bytes = testing::read_file(out);
    auto header = read_container_header(*bytes, out.string());
    ContainerBlocks blocks(*bytes, header, out.string());
    ContainerBlock block;
    int block_count = 0;
    while (blocks.next(block)) ++block_count;
    CHECK(block_count > 5);
    Decoder decoder;
    CHECK(check_against_libavro(decoder, out) == inputs.size());
  }
}

TEST_CASE("Records reference the message bytes and keep them alive") {
  auto path = testing::avro_files("ztf/kowalski-v3.3-v4.01").back();
  auto bytes = testing::read_file(path);
  const char* begin = bytes->data();
  const char* end = begin + bytes->size();
  Decoder decoder;
  std::vector<ebs::RawRecord> records;
  decoder.decode(bytes, path.string(), records);
  std::string copy = *bytes;
  bytes.reset();  // the record alone keeps the buffer
  REQUIRE(records.size() == 1);
  auto stamp = *records[0].path("cutoutScience.stampData").as_string();
  CHECK(stamp.data() > begin);
  CHECK(stamp.data() + stamp.size() <= end);
  CHECK(copy.find(stamp) != std::string::npos);
  CHECK(records[0].path("candidate.fid").as_int() >= 1);
  CHECK(records[0].path("schemavsn").as_string().has_value());
}

TEST_CASE("decode_head decodes a record's first fields from a prefix and stops where the rest starts") {
  for (const auto& path : testing::avro_files("ztf")) {
    auto bytes = testing::read_file(path);
    Decoder decoder;
    std::vector<ebs::RawRecord> whole;
    decoder.decode(bytes, path.string(), whole);
    REQUIRE(whole.size() == 1);
    const ContainerHeader header = read_container_header(*bytes, path.string());
    auto plan = decoder.plan_for_container(header.schema, 0, path.string());
    ByteReader head(std::string_view(*bytes).substr(header.blocks_offset), path.string(), header.blocks_offset);
    head.read_long();
    head.read_long();
    const uint64_t data_start = head.offset();
    // ZTF: schemavsn ... prv_candidates (fp_hists), then the three cutouts.
    const uint32_t fields = static_cast<uint32_t>(whole[0].root().size()) - 3;
    const std::string_view cutout = *whole[0].path("cutoutScience.stampData").as_string();
    const auto cutouts_at = static_cast<size_t>(cutout.data() - bytes->data());
    uint64_t end = 0;
    // The file cut where the science cutout's bytes start: enough.
    ebs::RawRecord record = decoder.decode_head(
        plan, std::string_view(*bytes).substr(data_start, cutouts_at - data_start), data_start, bytes,
        path.string(), fields, end);
    CHECK(end < cutouts_at);
    CHECK(record.root().size() == whole[0].root().size());
    CHECK(record.path("cutoutScience").is_null());
    CHECK(record.path("cutoutDifference").is_null());
    CHECK(record.path("candidate.candid").as_int() == whole[0].path("candidate.candid").as_int());
    CHECK(record.path("prv_candidates").size() == whole[0].path("prv_candidates").size());
    // Cut before those fields end: a Fault, as for a truncated file.
    CHECK_THROWS_AS(decoder.decode_head(plan, std::string_view(*bytes).substr(data_start, end - data_start - 1),
                                        data_start, bytes, path.string(), fields, end),
                    ebs::Fault);
  }
}

TEST_CASE("Bytes in a buffer the caller owns decode without a copy and stay alive with the records") {
  // As a Kafka source would hand over a client's message: a view and the owner of its bytes.
  auto path = testing::avro_files("ztf/kowalski-v3.3-v4.01").back();
  std::string file = *testing::read_file(path);
  auto owner = std::make_shared<std::vector<char>>(file.begin(), file.end());
  std::weak_ptr<std::vector<char>> watch = owner;
  std::vector<ebs::RawRecord> records, expected;
  Decoder decoder;
  decoder.decode(std::string_view(owner->data(), owner->size()), owner, path.string(), records);
  Decoder().decode(std::make_shared<const std::string>(file), path.string(), expected);
  REQUIRE(records.size() == 1);
  CHECK(to_json(records[0], true) == to_json(expected[0], true));
  auto stamp = *records[0].path("cutoutScience.stampData").as_string();
  CHECK(stamp.data() > owner->data());  // a view into the caller's buffer
  CHECK(stamp.data() + stamp.size() <= owner->data() + owner->size());
  owner.reset();
  CHECK_FALSE(watch.expired());  // the record keeps it
  records.clear();
  CHECK(watch.expired());

  // A Confluent frame the same way.
  auto directory = std::make_shared<const SchemaDirectory>(
      SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema"));
  Decoder rubin(DecoderSources{std::make_shared<SchemaCache>(), directory, nullptr});
  auto frame = std::make_shared<const std::string>(
      testing::confluent_frame(1100, testing::single_record_body(*testing::read_file(testing::rubin_fake_alert(11)))));
  rubin.decode(std::string_view(*frame), frame, "lsst-alerts/0/1", records);
  REQUIRE(records.size() == 1);
  CHECK(records[0].path("diaSource.diaSourceId").as_int().has_value());
  // Bad bytes raise the same faults, with the place.
  CHECK_THROWS_WITH_AS(rubin.decode(std::string_view("XYZ"), nullptr, "t/0/2", records),
                       doctest::Contains("t/0/2:byte 0: neither an Avro container file"), ebs::Fault);
}

TEST_CASE("Rubin alerts in Confluent wire format decode through the local schema directory") {
  auto directory = std::make_shared<const SchemaDirectory>(
      SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema"));
  Decoder decoder(DecoderSources{std::make_shared<SchemaCache>(), directory, nullptr});
  for (int major : {9, 10, 11}) {
    CAPTURE(major);
    std::string body = testing::single_record_body(*testing::read_file(testing::rubin_fake_alert(major)));
    auto frame = std::make_shared<const std::string>(testing::confluent_frame(major * 100, body));
    std::vector<ebs::RawRecord> records;
    decoder.decode(frame, "lsst-alerts/0/" + std::to_string(major), records);
    REQUIRE(records.size() == 1);
    reference::read_datum(*directory->schema_text(major * 100), body, [&](avro_value_t& expected) {
      CHECK(reference::compare(expected, records[0].root()) == "");
    });
    CHECK(records[0].path("diaSource.diaSourceId").as_int().has_value());
    // The OCF sample itself decodes to the same record.
    std::vector<ebs::RawRecord> from_file;
    decoder.decode(testing::read_file(testing::rubin_fake_alert(major)), "fakeAlert", from_file);
    reference::read_datum(*directory->schema_text(major * 100), body, [&](avro_value_t& expected) {
      CHECK(reference::compare(expected, from_file[0].root()) == "");
    });
  }
  auto unknown = std::make_shared<const std::string>(testing::confluent_frame(1200, "\x02"));
  std::vector<ebs::RawRecord> records;
  CHECK_THROWS_WITH_AS(decoder.decode(unknown, "lsst-alerts/1/5", records),
                       "lsst-alerts/1/5:byte 1: unknown schema id 1200", ebs::Fault);
  Decoder bare;
  CHECK_THROWS_WITH_AS(bare.decode(unknown, "t/0/0", records),
                       "t/0/0:byte 1: unknown schema id 1200 (no schema directory or registry configured)",
                       ebs::Fault);
}

TEST_CASE("A real ZTF alert whose embedded schema names a field twice is rejected; a wrong magic byte too") {
  // libavro 1.11 reads such a file; we refuse it. "rb" -> "ra" keeps the header's lengths, so the
  // container stays well-formed and only the schema is wrong.
  auto path = testing::avro_files("ztf/kowalski-v3.3-v4.01").front();
  std::string bytes = *testing::read_file(path);
  size_t at = bytes.find(R"("name": "rb")");
  if (at == std::string::npos) at = bytes.find(R"("name":"rb")");
  REQUIRE(at != std::string::npos);
  bytes.replace(bytes.find("\"rb\"", at), 4, "\"ra\"");
  Decoder decoder;
  std::vector<ebs::RawRecord> records;
  try {
    decoder.decode(std::make_shared<const std::string>(bytes), "ztf/dup.avro", records);
    FAIL("a duplicate field name was accepted");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::failed);
    CHECK(f.place().rfind("ztf/dup.avro:byte ", 0) == 0);
    CHECK(f.place().find("(schema)") != std::string::npos);
    CHECK(f.message() == "invalid Avro schema: duplicate field name \"ra\" in ztf.alert.candidate");
  }
  CHECK(records.empty());
  // The untouched message still decodes with the same decoder (the bad schema was not cached).
  decoder.decode(testing::read_file(path), path.string(), records);
  CHECK(records.size() == 1);

  // A real message whose first byte is neither 'O' (container) nor 0 (Confluent).
  std::string wrong = *testing::read_file(path);
  wrong[0] = 'X';
  CHECK_THROWS_WITH_AS(decoder.decode(std::make_shared<const std::string>(wrong), "ztf/0/42", records),
                       doctest::Contains("ztf/0/42:byte 0: neither an Avro container file"), ebs::Fault);
  // A Confluent frame of a real Rubin body with magic byte 1.
  std::string frame = testing::confluent_frame(1100, testing::single_record_body(*testing::read_file(testing::rubin_fake_alert(11))));
  frame[0] = '\x01';
  CHECK_THROWS_WITH_AS(decoder.decode(std::make_shared<const std::string>(frame), "lsst/0/7", records),
                       doctest::Contains("lsst/0/7:byte 0: neither"), ebs::Fault);
}

TEST_CASE("Wrong magic, trailing bytes and invalid schemas raise faults with place and offset") {
  Decoder decoder;
  std::vector<ebs::RawRecord> records;
  auto msg = [](std::string s) { return std::make_shared<const std::string>(std::move(s)); };
  CHECK_THROWS_WITH_AS(decoder.decode(msg("{\"json\": 1}"), "f.avro", records),
                       "f.avro:byte 0: neither an Avro container file (magic Obj\\x01) nor a Confluent frame (magic byte 0)",
                       ebs::Fault);
  CHECK_THROWS_WITH_AS(decoder.decode(msg(""), "f.avro", records), "f.avro:byte 0: empty message", ebs::Fault);
  CHECK_THROWS_WITH_AS(decoder.decode(msg(std::string("\0\0\0", 3)), "t/0/1", records),
                       "t/0/1:byte 1: truncated: need 4 bytes, 2 left", ebs::Fault);
  std::string schema = R"({"type": "record", "name": "r", "fields": [{"name": "x", "type": "int"}]})";
  std::string extra = testing::make_container(schema, "null", {{1, "\x02\x02"}});
  CHECK_THROWS_WITH_AS(decoder.decode(msg(extra), "f.avro", records),
                       doctest::Contains("1 bytes left over after the block's records"), ebs::Fault);
  std::string duplicate = R"({"type": "record", "name": "r", "fields": [{"name": "x", "type": "int"}, {"name": "x", "type": "int"}]})";
  try {
    decoder.decode(msg(testing::make_container(duplicate, "null", {{1, "\x02\x02"}})), "dup.avro", records);
    FAIL("duplicate field names accepted");
  } catch (const ebs::Fault& f) {
    CHECK(f.place() == "dup.avro:byte 19 (schema)");
    CHECK(f.message() == "invalid Avro schema: duplicate field name \"x\" in r");
  }
  std::string too_many = testing::make_container(schema, "null", {{1000, "\x02\x02"}});
  CHECK_THROWS_WITH_AS(decoder.decode(msg(too_many), "f.avro", records), doctest::Contains("block claims 1000 records in 2 bytes"), ebs::Fault);
  std::string deflate_garbage = testing::make_container(schema, "deflate", {{1, "garbage"}});
  CHECK_THROWS_WITH_AS(decoder.decode(msg(deflate_garbage), "f.avro", records), doctest::Contains("f.avro:byte "), ebs::Fault);
}

TEST_CASE("Truncated and corrupted real alerts either decode or raise a Fault") {
  TempDir tmp;
  std::vector<std::pair<std::string, std::string>> inputs;  // place, bytes
  auto add = [&](const fs::path& p) { inputs.emplace_back(p.string(), *testing::read_file(p)); };
  add(testing::avro_files("ztf/fink-20200101-v3.3").front());
  add(testing::avro_files("ztf/kowalski-v3.3-v4.01").back());
  add(testing::avro_files("lsst/rubin-lsstcam-v9-spark").front());
  add(testing::avro_files("other-surveys/pgir").front());
  for (const char* codec : {"deflate", "snappy"}) {
    fs::path out = tmp.path / (std::string("fuzz.") + codec + ".avro");
    reference::rewrite_with_codec({testing::avro_files("ztf/kowalski-v3.3-v4.01").front().string()}, out.string(), codec);
    add(out);
  }
  auto directory = std::make_shared<const SchemaDirectory>(
      SchemaDirectory::load(ebs::test::data_dir() / "lsst" / "schema"));
  inputs.emplace_back("lsst-alerts/0/11", testing::confluent_frame(1100, testing::single_record_body(
                                                                     *testing::read_file(testing::rubin_fake_alert(11)))));

  Decoder decoder(DecoderSources{std::make_shared<SchemaCache>(), directory, nullptr});
  size_t cases = 0;
  for (const auto& place_bytes : inputs) {
    const auto& place = place_bytes.first;
    const auto& bytes = place_bytes.second;  // clang 14 lambdas (INFO) cannot capture structured bindings
    CAPTURE(place);
    size_t step = std::max<size_t>(1, bytes.size() / 300);
    for (size_t n = 0; n < bytes.size(); n += step) {
      decode_or_fault(decoder, bytes.substr(0, n), place);  // truncated at n
      for (uint8_t mask : {0x01, 0x80, 0xff}) {             // one byte flipped at n
        std::string flipped = bytes;
        flipped[n] = static_cast<char>(flipped[n] ^ mask);
        decode_or_fault(decoder, flipped, place);
      }
      cases += 4;
    }
    for (size_t cut = 1; cut <= 40 && cut < bytes.size(); ++cut) {  // the last bytes, one by one
      decode_or_fault(decoder, bytes.substr(0, bytes.size() - cut), place);
      ++cases;
    }
  }
  CHECK(cases > 8000);
}
