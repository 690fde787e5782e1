#include "actors/common/avro/decoder.h"

#include "actors/common/avro/container_file.h"
#include "engine/util/fault.h"

namespace ebs::avro {

Decoder::Decoder(DecoderSources sources) : sources_(std::move(sources)) {
  if (!sources_.cache) sources_.cache = std::make_shared<SchemaCache>();
}

void Decoder::decode(std::shared_ptr<const std::string> message, std::string_view place,
                     std::vector<RawRecord>& out) {
  if (!message) ebs::fail(std::string(place), "no message");
  std::string_view bytes = *message;
  decode(bytes, std::move(message), place, out);
}

void Decoder::decode(std::string_view bytes, std::shared_ptr<const void> keep_alive, std::string_view place,
                     std::vector<RawRecord>& out) {
  if (has_container_magic(bytes)) return decode_container(bytes, keep_alive, place, out);
  if (!bytes.empty() && bytes[0] == 0) return decode_confluent(bytes, keep_alive, place, out);
  ByteReader(bytes, place).fail(
      bytes.empty() ? "empty message"
                    : "neither an Avro container file (magic Obj\\x01) nor a Confluent frame "
                      "(magic byte 0)");
}

void Decoder::decode_container(std::string_view bytes, const std::shared_ptr<const void>& message,
                               std::string_view place, std::vector<RawRecord>& out) {
  ContainerHeader header = read_container_header(bytes, place);
  auto plan = plan_for_container(header.schema, header.schema.data() - bytes.data(), place);
  ContainerBlocks blocks(bytes, header, place);
  ContainerBlock block;
  while (blocks.next(block)) decode_block(plan, block, message, place, out);
}

std::shared_ptr<const DecodePlan> Decoder::plan_for_container(std::string_view schema, uint64_t schema_offset,
                                                              std::string_view place) {
  if (last_plan_ && schema == last_schema_) return last_plan_;
  std::string schema_place = std::string(place) + ":byte " + std::to_string(schema_offset) + " (schema)";
  auto plan = sources_.cache->plan_for(schema, schema_place);
  last_schema_.assign(schema);
  last_plan_ = plan;
  return plan;
}

void Decoder::decode_block(const std::shared_ptr<const DecodePlan>& plan, const ContainerBlock& block,
                           const std::shared_ptr<const void>& message, std::string_view place,
                           std::vector<RawRecord>& out, std::vector<std::string_view>* record_bytes) {
  std::shared_ptr<const void> owner = block.owner ? block.owner : message;
  std::string region;
  if (block.owner) region = "of the block decompressed from byte " + std::to_string(block.data_offset);
  ByteReader in(block.data, place, block.owner ? 0 : block.data_offset, std::move(region));
  // Each record takes at least min_size bytes: check the count before decoding.
  uint64_t min_size = plan->type(plan->root()).min_size;
  if (min_size == 0 ? block.object_count > (1 << 20)
                    : static_cast<uint64_t>(block.object_count) > in.remaining() / min_size)
    in.fail("block claims " + std::to_string(block.object_count) + " records in " +
            std::to_string(in.remaining()) + " bytes");
  for (int64_t i = 0; i < block.object_count; ++i) {
    const char* start = in.position();
    out.push_back(datum_.decode(plan, in, owner));
    if (record_bytes) record_bytes->emplace_back(start, static_cast<size_t>(in.position() - start));
  }
  if (!in.at_end())
    in.fail(std::to_string(in.remaining()) + " bytes left over after the block's records");
}

RawRecord Decoder::decode_head(const std::shared_ptr<const DecodePlan>& plan, std::string_view data,
                               uint64_t data_offset, const std::shared_ptr<const void>& keep_alive,
                               std::string_view place, uint32_t root_fields, uint64_t& end) {
  ByteReader in(data, place, data_offset);
  RawRecord record = datum_.decode_head(plan, in, keep_alive, root_fields);
  end = in.offset();
  return record;
}

std::shared_ptr<const DecodePlan> Decoder::plan_for_id(uint32_t id, std::string_view place) {
  if (auto it = plans_by_id_.find(id); it != plans_by_id_.end()) return it->second;
  std::string schema_place = std::string(place) + ":schema id " + std::to_string(id);
  std::shared_ptr<const DecodePlan> plan;
  if (sources_.directory) {
    if (auto text = sources_.directory->schema_text(id))
      plan = sources_.cache->plan_for(*text, schema_place);
  }
  if (!plan && sources_.registry) {
    std::shared_ptr<const std::string> text;
    try {
      text = sources_.registry->schema_text(id);
    } catch (const Fault& fault) {  // same kind, but placed at the message (and naming the URL)
      throw Fault(fault.kind(), std::string(place) + ":byte 1",
                  fault.message() + " (" + fault.place() + ")");
    }
    plan = sources_.cache->plan_for(*text, schema_place);
  }
  if (!plan)
    ebs::fail(std::string(place) + ":byte 1",
              "unknown schema id " + std::to_string(id) +
                  (sources_.directory || sources_.registry
                       ? ""
                       : " (no schema directory or registry configured)"));
  plans_by_id_.emplace(id, plan);
  return plan;
}

void Decoder::decode_confluent(std::string_view bytes, const std::shared_ptr<const void>& message,
                               std::string_view place, std::vector<RawRecord>& out) {
  ByteReader header(bytes, place);
  header.skip(1);
  std::string_view id_bytes = header.read_fixed(4);
  auto u = [&](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(id_bytes[i])); };
  uint32_t id = (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
  auto plan = plan_for_id(id, place);
  ByteReader in(bytes.substr(5), place, 5);
  out.push_back(datum_.decode(plan, in, message));
  if (!in.at_end())
    in.fail(std::to_string(in.remaining()) + " bytes left over after the record");
}

}  // namespace ebs::avro
