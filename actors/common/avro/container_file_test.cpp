#include "actors/common/avro/container_file.h"

#include <doctest/doctest.h>
#include <snappy.h>
#include <zlib.h>

#include "test/support/avro_test_files.h"
#include "engine/util/fault.h"

using namespace ebs::avro;
using testing::make_container;

TEST_CASE("Container header and blocks of a real ZTF alert") {
  auto path = testing::avro_files("ztf/kowalski-v3.3-v4.01").front();
  auto bytes = testing::read_file(path);
  ContainerHeader header = read_container_header(*bytes, path.string());
  CHECK(header.codec == Codec::null);
  CHECK(header.schema.substr(0, 1) == "{");
  CHECK(header.schema.find("\"ztf.alert\"") != std::string_view::npos);
  CHECK(header.sync.size() == 16);
  ContainerBlocks blocks(*bytes, header, path.string());
  ContainerBlock block;
  REQUIRE(blocks.next(block));
  CHECK(block.object_count == 1);
  CHECK(block.owner == nullptr);
  CHECK(block.data.data() > bytes->data());  // null codec: the message's own bytes
  CHECK(!blocks.next(block));
}

TEST_CASE("Container header faults") {
  CHECK_THROWS_WITH_AS(read_container_header("Obj\x02", "f"), "f:byte 0: not an Avro container file (magic is not Obj\\x01)", ebs::Fault);
  std::string good = make_container(R"("int")", "null", {{1, "\x02"}});
  CHECK(read_container_header(good, "f").codec == Codec::null);
  size_t header_end = read_container_header(good, "f").blocks_offset;
  for (size_t n = 0; n < header_end; ++n)  // every truncation of the header
    CHECK_THROWS_AS(read_container_header(good.substr(0, n), "f"), ebs::Fault);
  std::string xz = make_container(R"("int")", "xz", {});
  try {
    read_container_header(xz, "f");
    FAIL("xz accepted");
  } catch (const ebs::Fault& f) {
    CHECK(f.kind() == ebs::FaultKind::unimplemented);
    CHECK(f.message() == "unsupported Avro codec \"xz\"");
    CHECK(f.place().find("f:byte ") == 0);
  }
  std::string no_schema("Obj\x01", 4);
  no_schema += testing::zigzag(0) + "0123456789abcdef";
  CHECK_THROWS_WITH_AS(read_container_header(no_schema, "f"), "f:byte 5: container header has no avro.schema", ebs::Fault);
}

TEST_CASE("Container blocks: sync marker mismatch and bad counts") {
  std::string file = make_container(R"("int")", "null", {{1, "\x02"}, {1, "\x04"}});
  ContainerHeader header = read_container_header(file, "f");
  std::string bad_sync = file;
  bad_sync[bad_sync.size() - 1] ^= 1;
  ContainerBlocks blocks(bad_sync, header, "f");
  ContainerBlock block;
  CHECK(blocks.next(block));
  CHECK_THROWS_WITH_AS(blocks.next(block),
                       ("f:byte " + std::to_string(bad_sync.size() - 16) + ": sync marker mismatch after block").c_str(),
                       ebs::Fault);
  std::string negative = make_container(R"("int")", "null", {{-1, "\x02"}});
  ContainerBlocks negative_blocks(negative, read_container_header(negative, "f"), "f");
  CHECK_THROWS_WITH_AS(negative_blocks.next(block), doctest::Contains("negative block object count"), ebs::Fault);
}

TEST_CASE("Deflate and snappy blocks") {
  std::string data;
  for (int i = 0; i < 5000; ++i) data += "alert " + std::to_string(i) + ";";
  // Raw deflate as Avro writes it.
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string deflated(compressBound(data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(deflated.data());
  z.avail_out = static_cast<uInt>(deflated.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  deflated.resize(z.total_out);
  deflateEnd(&z);
  CHECK(inflate_raw(deflated, "d") == data);
  CHECK_THROWS_WITH_AS(inflate_raw(deflated.substr(0, deflated.size() / 2), "d"), doctest::Contains("d: corrupt deflate block"), ebs::Fault);
  std::string garbage = deflated;
  garbage[0] = '\xff';
  CHECK_THROWS_AS(inflate_raw(garbage, "d"), ebs::Fault);

  std::string snappy_block;
  snappy::Compress(data.data(), data.size(), &snappy_block);
  uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  snappy_block += testing::big_endian32(crc);
  CHECK(snappy_uncompress_checked(snappy_block, "s") == data);
  std::string bad_crc = snappy_block;
  bad_crc.back() ^= 1;
  CHECK_THROWS_WITH_AS(snappy_uncompress_checked(bad_crc, "s"), "s: snappy block CRC32 mismatch", ebs::Fault);
  CHECK_THROWS_AS(snappy_uncompress_checked(snappy_block.substr(0, 40), "s"), ebs::Fault);
  CHECK_THROWS_AS(snappy_uncompress_checked("abc", "s"), ebs::Fault);
}
