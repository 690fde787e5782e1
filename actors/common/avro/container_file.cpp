#include "actors/common/avro/container_file.h"

#include <snappy.h>
#include <zlib.h>

#include "actors/common/avro/byte_reader.h"
#include "engine/util/fault.h"

namespace ebs::avro {

namespace {
// A decompressed block larger than this is refused (a corrupt or hostile size field must not
// make us allocate without bound).
constexpr size_t kMaxBlockBytes = size_t{1} << 30;
}  // namespace

ContainerHeader read_container_header(std::string_view bytes, std::string_view place) {
  ByteReader in(bytes, place);
  if (!has_container_magic(bytes)) in.fail("not an Avro container file (magic is not Obj\\x01)");
  in.skip(4);
  ContainerHeader header;
  bool have_schema = false;
  std::string_view codec = "null";
  const char* codec_at = nullptr;
  while (true) {
    const char* at = in.position();
    int64_t count = in.read_long();
    if (count == 0) break;
    if (count < 0) {
      if (count == INT64_MIN) in.fail_at(at, "metadata count out of range");
      count = -count;
      in.read_long();  // the block's byte size: not needed
    }
    if (static_cast<uint64_t>(count) > in.remaining() / 2)
      in.fail_at(at, "metadata count " + std::to_string(count) + " runs past the end");
    for (int64_t i = 0; i < count; ++i) {
      std::string_view key = in.read_bytes();
      const char* value_at = in.position();
      std::string_view value = in.read_bytes();
      if (key == "avro.schema") {
        header.schema = value;
        have_schema = true;
      } else if (key == "avro.codec") {
        codec = value;
        codec_at = value_at;
      }
    }
  }
  if (!have_schema) in.fail("container header has no avro.schema");
  header.sync = in.read_fixed(16);
  header.blocks_offset = bytes.size() - in.remaining();
  if (codec == "null") {
    header.codec = Codec::null;
  } else if (codec == "deflate") {
    header.codec = Codec::deflate;
  } else if (codec == "snappy") {
    header.codec = Codec::snappy;
  } else {
    uint64_t offset = codec_at ? static_cast<uint64_t>(codec_at - bytes.data()) : 0;
    ebs::unimplemented(std::string(place) + ":byte " + std::to_string(offset),
                       "unsupported Avro codec \"" + std::string(codec) + "\"");
  }
  return header;
}

ContainerBlocks::ContainerBlocks(std::string_view bytes, const ContainerHeader& header,
                                 std::string_view place, uint64_t file_offset)
    : bytes_(bytes),
      header_(header),
      place_(place),
      pos_(file_offset == 0 ? header.blocks_offset : 0),
      file_offset_(file_offset) {}

bool ContainerBlocks::next(ContainerBlock& block) {
  if (pos_ >= bytes_.size()) return false;
  ByteReader in(bytes_.substr(pos_), place_, file_offset_ + pos_);
  const char* count_at = in.position();
  int64_t count = in.read_long();
  if (count < 0) in.fail_at(count_at, "negative block object count " + std::to_string(count));
  std::string_view data = in.read_bytes();
  uint64_t data_offset = in.offset() - data.size();
  const char* sync_at = in.position();
  std::string_view sync = in.read_fixed(16);
  if (sync != header_.sync) in.fail_at(sync_at, "sync marker mismatch after block");
  if (count == 0 && !data.empty()) in.fail_at(count_at, "block of 0 objects holds data");
  pos_ = in.offset() - file_offset_;

  block.object_count = count;
  block.data_offset = data_offset;
  std::string where = std::string(place_) + ":byte " + std::to_string(data_offset);
  switch (header_.codec) {
    case Codec::null:
      block.data = data;
      block.owner.reset();
      break;
    case Codec::deflate: {
      auto owned = std::make_shared<std::string>(inflate_raw(data, where));
      block.data = *owned;
      block.owner = std::move(owned);
      break;
    }
    case Codec::snappy: {
      auto owned = std::make_shared<std::string>(snappy_uncompress_checked(data, where));
      block.data = *owned;
      block.owner = std::move(owned);
      break;
    }
  }
  return true;
}

namespace {
std::string zigzag(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  std::string out;
  while (u >= 0x80) {
    out += static_cast<char>((u & 0x7f) | 0x80);
    u >>= 7;
  }
  out += static_cast<char>(u);
  return out;
}
std::string encoded_bytes(std::string_view s) { return zigzag(static_cast<int64_t>(s.size())) + std::string(s); }
}  // namespace

std::string container_file(std::string_view schema, Codec codec, std::string_view sync,
                           std::string_view blocks) {
  const char* codec_name = codec == Codec::deflate ? "deflate" : codec == Codec::snappy ? "snappy" : "null";
  std::string out("Obj\x01", 4);
  out += zigzag(2) + encoded_bytes("avro.schema") + encoded_bytes(schema) + encoded_bytes("avro.codec") +
         encoded_bytes(codec_name) + zigzag(0);
  out += sync;
  out += blocks;
  return out;
}

std::string encode_block(int64_t count, std::string_view data, std::string_view sync) {
  return zigzag(count) + encoded_bytes(data) + std::string(sync);
}

std::string inflate_raw(std::string_view compressed, const std::string& place) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) ebs::fail(place, "cannot start zlib inflate");
  std::string out;
  out.resize(std::max<size_t>(compressed.size() * 4, 4096));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int status = Z_OK;
  while (true) {
    if (stream.total_out == out.size()) {
      if (out.size() >= kMaxBlockBytes) {
        inflateEnd(&stream);
        ebs::fail(place, "deflate block inflates past 1 GiB");
      }
      out.resize(std::min(out.size() * 2, kMaxBlockBytes));
    }
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + stream.total_out);
    stream.avail_out = static_cast<uInt>(out.size() - stream.total_out);
    status = inflate(&stream, Z_NO_FLUSH);
    if (status == Z_STREAM_END) break;
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;  // input ended early
    if (status != Z_OK && status != Z_BUF_ERROR) break;
  }
  size_t produced = stream.total_out;
  std::string error = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (status != Z_STREAM_END)
    ebs::fail(place, "corrupt deflate block" + (error.empty() ? std::string() : ": " + error));
  out.resize(produced);
  return out;
}

std::string snappy_uncompress_checked(std::string_view block, const std::string& place) {
  if (block.size() < 4) ebs::fail(place, "snappy block shorter than its CRC32");
  std::string_view compressed = block.substr(0, block.size() - 4);
  size_t length = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &length))
    ebs::fail(place, "corrupt snappy block (bad length header)");
  if (length > kMaxBlockBytes) ebs::fail(place, "snappy block uncompresses past 1 GiB");
  std::string out;
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &out))
    ebs::fail(place, "corrupt snappy block");
  auto crc_bytes = reinterpret_cast<const unsigned char*>(block.data() + block.size() - 4);
  uint32_t expected = (uint32_t{crc_bytes[0]} << 24) | (uint32_t{crc_bytes[1]} << 16) |
                      (uint32_t{crc_bytes[2]} << 8) | uint32_t{crc_bytes[3]};
  uint32_t actual = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size())));
  if (actual != expected) ebs::fail(place, "snappy block CRC32 mismatch");
  return out;
}

}  // namespace ebs::avro
