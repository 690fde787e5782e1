// Decodes survey alert messages into RawRecords:
//  - an Avro Object Container File (magic "Obj\x01"; ZTF, PGIR, TURBO, Spark re-serialized Rubin),
//    with its writer schema in the header, any number of blocks and records, codec null, deflate
//    or snappy;
//  - a Confluent wire-format frame (byte 0 = 0, bytes 1-4 = big-endian schema id, then one Avro
//    datum; Rubin/LSST), its writer schema from a local SchemaDirectory or a schema registry.
// Records point into the message (null codec, Confluent) or into the decompressed block, which
// they keep alive; cutout bytes are referenced, not copied.
//
// One Decoder per thread (it keeps scratch state and per-decoder memos); the SchemaCache,
// SchemaDirectory and SchemaRegistryClient may be shared between decoders.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/common/avro/container_file.h"
#include "actors/common/avro/datum_decoder.h"
#include "actors/common/avro/schema_cache.h"
#include "actors/common/avro/schema_directory.h"
#include "actors/common/avro/schema_registry_client.h"
#include "engine/model/raw_record.h"

namespace ebs::avro {

struct DecoderSources {
  std::shared_ptr<SchemaCache> cache;                 // required (shared plans)
  std::shared_ptr<const SchemaDirectory> directory;   // optional: Confluent ids from .avsc files
  std::shared_ptr<SchemaRegistryClient> registry;     // optional: Confluent ids over HTTP
};

class Decoder {
 public:
  Decoder() : Decoder(DecoderSources{std::make_shared<SchemaCache>(), nullptr, nullptr}) {}
  explicit Decoder(DecoderSources sources);

  // Decodes one Kafka message or file: OCF (auto-detected by magic) or Confluent frame. Appends
  // one RawRecord per Avro record to `out`. `place` names the input in errors
  // ("path/to/file.avro", "topic/partition/offset"); faults carry "PLACE:byte N".
  // On a Fault, records decoded before it may already be in `out`.
  void decode(std::shared_ptr<const std::string> message, std::string_view place,
              std::vector<RawRecord>& out);
  // The same on bytes the caller already holds in its own buffer (a Kafka client's message, a
  // mapped file): no copy; the records keep `keep_alive` (the owner of `bytes`) alive.
  void decode(std::string_view bytes, std::shared_ptr<const void> keep_alive, std::string_view place,
              std::vector<RawRecord>& out);

  // A container file read block by block (ingest::ContainerFileStream): the plan of its writer
  // schema (`schema_offset` places a fault in it), then each block's records. `record_bytes`,
  // when given, gets each record's encoding (a view into the block's data), so that a record that
  // fails later can be dead-lettered as a container of its own.
  std::shared_ptr<const DecodePlan> plan_for_container(std::string_view schema, uint64_t schema_offset,
                                                       std::string_view place);
  void decode_block(const std::shared_ptr<const DecodePlan>& plan, const ContainerBlock& block,
                    const std::shared_ptr<const void>& keep_alive, std::string_view place,
                    std::vector<RawRecord>& out, std::vector<std::string_view>* record_bytes = nullptr);

  // The first `root_fields` fields of a record of `plan` whose encoding starts `data` (null codec,
  // at file offset `data_offset`): DatumDecoder::decode_head. `data` may end before the record
  // does (a prefix of the file) but must hold those fields, else a Fault. `end` gets the file
  // offset where they end. The avro-files source's read without the cutouts.
  RawRecord decode_head(const std::shared_ptr<const DecodePlan>& plan, std::string_view data, uint64_t data_offset,
                        const std::shared_ptr<const void>& keep_alive, std::string_view place, uint32_t root_fields,
                        uint64_t& end);

  // The plan for a Confluent schema id (directory first, then registry).
  std::shared_ptr<const DecodePlan> plan_for_id(uint32_t id, std::string_view place);

 private:
  void decode_container(std::string_view bytes, const std::shared_ptr<const void>& keep_alive,
                        std::string_view place, std::vector<RawRecord>& out);
  void decode_confluent(std::string_view bytes, const std::shared_ptr<const void>& keep_alive,
                        std::string_view place, std::vector<RawRecord>& out);

  DecoderSources sources_;
  DatumDecoder datum_;
  // The last container schema seen and its plan: consecutive messages of a stream almost always
  // share it, and one memcmp beats hashing 25 KB.
  std::string last_schema_;
  std::shared_ptr<const DecodePlan> last_plan_;
  std::unordered_map<uint32_t, std::shared_ptr<const DecodePlan>> plans_by_id_;
};

}  // namespace ebs::avro
