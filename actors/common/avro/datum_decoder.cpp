#include "actors/common/avro/datum_decoder.h"

#include <algorithm>
#include <string>
#include <utility>

namespace ebs::avro {

using Op = PlanType::Op;
using Step = PlanType::Step;

namespace {
// Records, arrays, maps and unions nest at most this deep (recursive schemas could otherwise
// let crafted data exhaust the stack).
constexpr int kMaxDepth = 256;
// Items that encode to zero bytes (null, empty records) are capped per block: a count cannot be
// checked against the bytes left for them.
constexpr int64_t kMaxZeroSizeItems = 1 << 20;
// A record's node table is indexed by uint32; stay far below that.
constexpr size_t kMaxNodes = size_t{1} << 28;
}  // namespace

// The per-field step, inlined into the record loop: primitives are written in place, records,
// arrays and maps go out of line.
inline __attribute__((always_inline)) void DatumDecoder::decode_value(uint32_t type_id,
                                                                      uint32_t node, int depth) {
  const PlanType* t = &types_[type_id];
  if (t->step == Step::Union) {
    const char* at = in_->position();
    int64_t index = in_->read_long();
    if (index < 0 || index >= t->count) [[unlikely]] fail_union_branch(at, index, t->count);
    t = &types_[members_[t->first + static_cast<uint32_t>(index)]];
  }
  // Slots come uninitialised (Slots::unset): every case writes the whole node.
  RawNode& n = builder_.at(node);
  auto put = [&n](RawNode::Kind kind) -> RawNode& {
    n = RawNode();
    n.kind = kind;
    return n;
  };
  // A fused union of null and a primitive: reads the branch; false (and the node Null) for null.
  auto present = [this, t, &n]() {
    const char* at = in_->position();
    int64_t index = in_->read_long();
    if (static_cast<uint64_t>(index) > 1) [[unlikely]] fail_union_branch(at, index, 2);
    if (index != t->null_branch) return true;
    n = RawNode();
    return false;
  };
  // Each NullOr step reads its branch, then falls through to its primitive's case.
  switch (t->step) {
    case Step::Null:
      n = RawNode();
      return;
    case Step::NullOrBoolean:
      if (!present()) return;
      [[fallthrough]];
    case Step::Boolean:
      put(RawNode::Kind::Bool).boolean = in_->read_boolean();
      return;
    case Step::NullOrInt:
      if (!present()) return;
      [[fallthrough]];
    case Step::Int:
      put(RawNode::Kind::Int).integer = in_->read_int();
      return;
    case Step::NullOrLong:
      if (!present()) return;
      [[fallthrough]];
    case Step::Long:
      put(RawNode::Kind::Int).integer = in_->read_long();
      return;
    case Step::NullOrFloat:
      if (!present()) return;
      [[fallthrough]];
    case Step::Float:
      put(RawNode::Kind::Double).number = in_->read_float();
      return;
    case Step::NullOrDouble:
      if (!present()) return;
      [[fallthrough]];
    case Step::Double:
      put(RawNode::Kind::Double).number = in_->read_double();
      return;
    case Step::NullOrString:
      if (!present()) return;
      [[fallthrough]];
    case Step::String:
      builder_.count_text((put(RawNode::Kind::String).text = in_->read_bytes()).size());
      return;
    case Step::NullOrBytes:
      if (!present()) return;
      [[fallthrough]];
    case Step::Bytes:
      builder_.count_text((put(RawNode::Kind::Bytes).text = in_->read_bytes()).size());
      return;
    case Step::Fixed:
      builder_.count_text((put(RawNode::Kind::Bytes).text = in_->read_fixed(t->count)).size());
      return;
    case Step::Enum: {
      const char* at = in_->position();
      int64_t index = in_->read_long();
      if (index < 0 || index >= t->count) [[unlikely]]
        in_->fail_at(at, "enum index " + std::to_string(index) + " out of range [0, " +
                             std::to_string(t->count) + ")");
      builder_.count_text((put(RawNode::Kind::String).text = plan_->symbol(t->first + static_cast<uint32_t>(index))).size());
      return;
    }
    case Step::Union:
      in_->fail("a union inside a union");  // the plan compiler rejects these
    case Step::Record:
      decode_record(*t, node, depth + 1);
      return;
    case Step::Array:
    case Step::Map:
      if (depth >= kMaxDepth) in_->fail("values nested deeper than 256 levels");
      decode_blocks(*t, node, depth + 1);
      return;
  }
}

void DatumDecoder::fail_union_branch(const char* at, int64_t index, uint32_t count) const {
  in_->fail_at(at, "union branch " + std::to_string(index) + " out of range [0, " +
                       std::to_string(count) + ")");
}

__attribute__((noinline)) void DatumDecoder::decode_record(const PlanType& t, uint32_t node,
                                                           int depth) {
  if (depth >= kMaxDepth) in_->fail("values nested deeper than 256 levels");
  uint32_t first = builder_.begin_record(node, t.shape, RawRecordBuilder::Slots::unset);
  const uint32_t* fields = members_ + t.first;
  for (uint32_t i = 0; i < t.count; ++i) decode_value(fields[i], first + i, depth);
}

void DatumDecoder::start(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader) {
  plan_ = plan.get();
  types_ = plan_->types();
  members_ = plan_->members();
  in_ = &reader;
  builder_.reserve(next_reserve());
  builder_.add_root();  // also forgets what a record that threw left in the builder
}

size_t DatumDecoder::next_reserve() const {
  const size_t largest = std::max(window_largest_, previous_window_largest_);
  return largest + largest / 4 + 16;
}

RawRecord DatumDecoder::finish(const std::shared_ptr<const DecodePlan>& plan, std::shared_ptr<const void> keep_alive) {
  if (builder_.size() <= kMaxReservedNodes) window_largest_ = std::max(window_largest_, builder_.size());
  if (++window_records_ == kReserveWindow) {
    previous_window_largest_ = std::exchange(window_largest_, 0);
    window_records_ = 0;
  }
  return builder_.finish(std::move(keep_alive), plan);
}

RawRecord DatumDecoder::decode(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader,
                               std::shared_ptr<const void> keep_alive) {
  start(plan, reader);
  decode_value(plan_->root(), 0, 0);
  return finish(plan, std::move(keep_alive));
}

RawRecord DatumDecoder::decode_head(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader,
                                    std::shared_ptr<const void> keep_alive, uint32_t root_fields) {
  start(plan, reader);
  const PlanType& root = types_[plan_->root()];
  if (root.op != Op::Record || root_fields >= root.count) {
    decode_value(plan_->root(), 0, 0);
  } else {
    // As decode_record at depth 1, the fields left out staying Null.
    uint32_t first = builder_.begin_record(0, root.shape, RawRecordBuilder::Slots::null);
    const uint32_t* fields = members_ + root.first;
    for (uint32_t i = 0; i < root_fields; ++i) decode_value(fields[i], first + i, 1);
  }
  return finish(plan, std::move(keep_alive));
}

// Array and map blocks: a count (negative: followed by the block's byte size), then the items;
// a zero count ends them. Checks the count against the bytes left before reserving nodes.
int64_t DatumDecoder::read_block_count(const PlanType& t, int64_t* block_bytes) {
  const char* at = in_->position();
  int64_t count = in_->read_long();
  int64_t bytes = -1;
  if (count < 0) {
    if (count == INT64_MIN) in_->fail_at(at, "block count out of range");
    count = -count;
    const char* size_at = in_->position();
    bytes = in_->read_long();
    if (bytes < 0 || static_cast<uint64_t>(bytes) > in_->remaining())
      in_->fail_at(size_at, "block size " + std::to_string(bytes) + " runs past the end");
  }
  uint64_t item_min = t.op == Op::Map ? 1 + uint64_t{plan_->type(t.first).min_size}
                                      : plan_->type(t.first).min_size;
  if (item_min == 0 ? count > kMaxZeroSizeItems
                    : static_cast<uint64_t>(count) > in_->remaining() / item_min)
    in_->fail_at(at, "block count " + std::to_string(count) + " exceeds what the " +
                         std::to_string(in_->remaining()) + " bytes left can hold");
  if (block_bytes) *block_bytes = bytes;
  return count;
}

void DatumDecoder::decode_item(const PlanType& t, uint32_t node, int depth) {
  if (t.op == Op::Array) {
    decode_value(t.first, node, depth);
  } else {
    uint32_t entry = builder_.begin_record(node, t.shape, RawRecordBuilder::Slots::unset);
    builder_.set_string(entry, in_->read_bytes());
    decode_value(t.first, entry + 1, depth);
  }
}

void DatumDecoder::decode_blocks(const PlanType& t, uint32_t node, int depth) {
  const char* start = in_->position();
  int64_t count = read_block_count(t, nullptr);
  uint32_t first =
      builder_.begin_list(node, static_cast<uint32_t>(count), RawRecordBuilder::Slots::unset);
  if (count == 0) return;
  if (builder_.size() > kMaxNodes) in_->fail("too many values in one record");
  for (int64_t i = 0; i < count; ++i) decode_item(t, first + static_cast<uint32_t>(i), depth);
  if (read_block_count(t, nullptr) == 0) return;  // one block: the usual case

  // Several blocks: List children must be contiguous, so count all items first, then decode
  // them into a fresh run of nodes (the nodes of the first attempt stay unreachable).
  in_->seek(start);
  uint64_t total = 0;
  int64_t bytes = 0;
  while ((count = read_block_count(t, &bytes)) != 0) {
    total += static_cast<uint64_t>(count);
    if (total > kMaxNodes) in_->fail("too many values in one record");
    if (bytes >= 0) {
      in_->skip(static_cast<size_t>(bytes));
    } else {
      for (int64_t i = 0; i < count; ++i) {
        if (t.op == Op::Map) in_->read_bytes();
        skip_value(t.first, depth);
      }
    }
  }
  in_->seek(start);
  first = builder_.begin_list(node, static_cast<uint32_t>(total), RawRecordBuilder::Slots::unset);
  if (builder_.size() > kMaxNodes) in_->fail("too many values in one record");
  uint32_t index = 0;
  while ((count = read_block_count(t, nullptr)) != 0)
    for (int64_t i = 0; i < count; ++i) decode_item(t, first + index++, depth);
}

void DatumDecoder::skip_value(uint32_t type_id, int depth) {
  const PlanType& t = plan_->type(type_id);
  switch (t.op) {
    case Op::Null: return;
    case Op::Boolean: in_->read_boolean(); return;
    case Op::Int: in_->read_int(); return;
    case Op::Long: in_->read_long(); return;
    case Op::Float: in_->skip(4); return;
    case Op::Double: in_->skip(8); return;
    case Op::String:
    case Op::Bytes: in_->read_bytes(); return;
    case Op::Fixed: in_->skip(t.count); return;
    case Op::Enum: {
      const char* at = in_->position();
      int64_t index = in_->read_long();
      if (index < 0 || index >= t.count) in_->fail_at(at, "enum index out of range");
      return;
    }
    case Op::Union: {
      const char* at = in_->position();
      int64_t index = in_->read_long();
      if (index < 0 || index >= t.count) in_->fail_at(at, "union branch out of range");
      skip_value(plan_->member(t.first + static_cast<uint32_t>(index)), depth);
      return;
    }
    case Op::Record:
      if (depth >= kMaxDepth) in_->fail("values nested deeper than 256 levels");
      for (uint32_t i = 0; i < t.count; ++i) skip_value(plan_->member(t.first + i), depth + 1);
      return;
    case Op::Array:
    case Op::Map: {
      if (depth >= kMaxDepth) in_->fail("values nested deeper than 256 levels");
      int64_t count, bytes;
      while ((count = read_block_count(t, &bytes)) != 0) {
        if (bytes >= 0) {
          in_->skip(static_cast<size_t>(bytes));
          continue;
        }
        for (int64_t i = 0; i < count; ++i) {
          if (t.op == Op::Map) in_->read_bytes();
          skip_value(t.first, depth + 1);
        }
      }
      return;
    }
  }
}

}  // namespace ebs::avro
