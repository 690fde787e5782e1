// The Avro Object Container File (OCF) framing: magic "Obj\x01", a metadata map holding the
// writer schema (avro.schema) and codec (avro.codec), a 16-byte sync marker, then blocks of
// (object count, byte size, data, sync marker). Codecs: null, deflate (raw zlib inflate) and
// snappy (snappy data followed by a 4-byte big-endian CRC32 of the uncompressed bytes).
// A ZTF Kafka message is one whole OCF.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ebs::avro {

enum class Codec { null, deflate, snappy };

struct ContainerHeader {
  std::string_view schema;  // writer schema JSON, a view into the file bytes
  Codec codec = Codec::null;
  std::string_view sync;    // 16 bytes
  size_t blocks_offset = 0; // where the first block starts
};

inline bool has_container_magic(std::string_view bytes) {
  return bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("Obj\x01", 4);
}

// Parses the header; raises a Fault (place "PLACE:byte N") on bad magic, truncation, a missing
// schema or an unsupported codec (`unimplemented`).
ContainerHeader read_container_header(std::string_view bytes, std::string_view place);

struct ContainerBlock {
  int64_t object_count = 0;
  std::string_view data;                // the objects' bytes (decompressed if needed)
  std::shared_ptr<const void> owner;    // owns `data` when decompressed, else null
  uint64_t data_offset = 0;             // offset of the block's (compressed) data in the file
};

// Iterates over the blocks of a container, checking each block's sync marker. `bytes` may be a
// part of the file (a reader holding one block at a time): `file_offset` is where `bytes` starts
// in the file, so that faults and `data_offset` still count from the file's first byte.
class ContainerBlocks {
 public:
  ContainerBlocks(std::string_view bytes, const ContainerHeader& header, std::string_view place,
                  uint64_t file_offset = 0);
  // Returns false at the end of the file.
  bool next(ContainerBlock& block);

 private:
  std::string_view bytes_;
  ContainerHeader header_;
  std::string place_;
  size_t pos_;
  uint64_t file_offset_;
};

// A container file of its own: the writer schema, the codec and sync marker, then `blocks`,
// already encoded as (object count, byte size, data, sync marker). What a dead letter holds
// when it keeps a part of a larger container: a file `avro-files` reads and `replay` sends.
std::string container_file(std::string_view schema, Codec codec, std::string_view sync,
                           std::string_view blocks);
// One block of `count` records whose (uncompressed) encoding is `data`, for `container_file`
// with the null codec.
std::string encode_block(int64_t count, std::string_view data, std::string_view sync);

// Decompression, exposed for tests. Both raise a Fault naming `place` on corrupt data.
std::string inflate_raw(std::string_view compressed, const std::string& place);
std::string snappy_uncompress_checked(std::string_view block, const std::string& place);

}  // namespace ebs::avro
