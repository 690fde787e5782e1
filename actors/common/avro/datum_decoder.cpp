#include "actors/common/avro/datum_decoder.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
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

// The reads of the decoder's hot loop, on a cursor held in registers: a ByteReader's position
// lives in memory, and every node written made the compiler load and store it again. The common
// case is read inline (a varint with ten bytes left to read it from, a length that fits what is
// left, ...), by the rules byte_reader.h keeps for both; anything else (a read near the end, a
// value to refuse) goes back to the ByteReader at the same position, which reads it the one way
// it always did or raises its usual fault.
struct DatumDecoder::Cursor {
  const char* p;
  const char* end;
  ByteReader& reader;

  static Cursor at(ByteReader& reader) { return Cursor{reader.position(), reader.end(), reader}; }
  // Leaves the reader where the cursor is.
  void store() { reader.seek(p); }
  // Runs `step` on the reader from the cursor's position (a nested value), then continues where
  // it left the reader.
  template <class Step>
  __attribute__((always_inline)) void through_reader(Step step) {
    reader.seek(p);
    step();
    p = reader.position();
  }

  // The ByteReader's read at p. Out of line and given p by value: a cursor whose address
  // escaped would live on the stack.
  template <class Read>
  __attribute__((noinline, cold)) static auto read_at(ByteReader& reader, const char* at, Read read) {
    reader.seek(at);
    auto value = read(reader);
    return std::pair(value, reader.position());
  }
  template <class Read>
  __attribute__((always_inline)) auto slowly(Read read) {
    auto [value, after] = read_at(reader, p, read);
    p = after;
    return value;
  }

  int64_t read_long() {
    if (end - p >= 10) [[likely]] {
      uint64_t v;
      if (const int length = decode_varint10(reinterpret_cast<const uint8_t*>(p), v)) [[likely]] {
        p += length;
        return unzigzag(v);
      }
    }
    return slowly([](ByteReader& r) { return r.read_long(); });
  }
  int32_t read_int() {
    const char* start = p;
    int64_t v = read_long();
    if (!fits_int32(v)) [[unlikely]] {
      p = start;
      return slowly([](ByteReader& r) { return r.read_int(); });
    }
    return static_cast<int32_t>(v);
  }
  bool read_boolean() {
    if (p != end && is_boolean_byte(static_cast<uint8_t>(*p))) [[likely]]
      return *p++ == 1;
    return slowly([](ByteReader& r) { return r.read_boolean(); });
  }
  // float or double, copied as they are (little-endian: byte_reader.h).
  template <class Number>
  Number read_number() {
    if (end - p < static_cast<std::ptrdiff_t>(sizeof(Number))) [[unlikely]]
      return slowly([](ByteReader& r) -> Number {
        if constexpr (sizeof(Number) == 4) return r.read_float();
        else return r.read_double();
      });
    Number v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::string_view read_bytes() {
    const char* start = p;
    int64_t n = read_long();
    if (!length_fits(n, static_cast<size_t>(end - p))) [[unlikely]] {
      p = start;
      return slowly([](ByteReader& r) { return r.read_bytes(); });
    }
    std::string_view v(p, static_cast<size_t>(n));
    p += n;
    return v;
  }
  std::string_view read_fixed(size_t n) {
    if (static_cast<size_t>(end - p) < n) [[unlikely]]
      return slowly([n](ByteReader& r) { return r.read_fixed(n); });
    std::string_view v(p, n);
    p += n;
    return v;
  }
};

// One value whose step needs no nested nodes (a primitive, a fused union, an enum, a fixed),
// written into `n` from the cursor; false, nothing read, for the others (records, arrays, maps,
// general unions). `text` sums the texts written (RawRecordBuilder::count_text).
inline __attribute__((always_inline)) bool DatumDecoder::decode_flat(Step step, uint8_t null_branch,
                                                                     uint32_t type_id, RawNode& n,
                                                                     Cursor& cur, size_t& text) {
  // Slots come uninitialised (Slots::unset): every case writes the whole node. A null node is all
  // zero bytes (RawNode()), written as two 16-byte stores rather than one per member.
  static_assert(std::is_trivially_copyable_v<RawNode>, "a node is zeroed by memset");
  auto clear = [&n]() { std::memset(static_cast<void*>(&n), 0, sizeof n); };
  auto put = [&n, &clear](RawNode::Kind kind) -> RawNode& {
    clear();
    n.kind = kind;
    return n;
  };
  // A fused union of null and a primitive: reads the branch; false (and the node Null) for null.
  // Branch indexes 0 and 1 are the bytes 0 and 2; anything else (an index out of range, or one
  // written in more bytes than it needs) is read as a general varint.
  auto present = [this, null_branch, &clear, &cur]() {
    uint64_t index;
    if (cur.p != cur.end && (static_cast<uint8_t>(*cur.p) | 2) == 2) [[likely]] {
      index = static_cast<uint8_t>(*cur.p++) >> 1;
    } else {
      const char* at = cur.p;
      int64_t read = cur.read_long();
      if (static_cast<uint64_t>(read) > 1) [[unlikely]] fail_union_branch(at, read, 2);
      index = static_cast<uint64_t>(read);
    }
    if (index != null_branch) return true;
    clear();
    return false;
  };
  // Each NullOr step reads its branch, then falls through to its primitive's case.
  switch (step) {
    case Step::Null:
      clear();
      return true;
    case Step::NullOrBoolean:
      if (!present()) return true;
      [[fallthrough]];
    case Step::Boolean:
      put(RawNode::Kind::Bool).boolean = cur.read_boolean();
      return true;
    case Step::NullOrInt:
      if (!present()) return true;
      [[fallthrough]];
    case Step::Int:
      put(RawNode::Kind::Int).integer = cur.read_int();
      return true;
    case Step::NullOrLong:
      if (!present()) return true;
      [[fallthrough]];
    case Step::Long:
      put(RawNode::Kind::Int).integer = cur.read_long();
      return true;
    case Step::NullOrFloat:
      if (!present()) return true;
      [[fallthrough]];
    case Step::Float:
      put(RawNode::Kind::Double).number = cur.read_number<float>();
      return true;
    case Step::NullOrDouble:
      if (!present()) return true;
      [[fallthrough]];
    case Step::Double:
      put(RawNode::Kind::Double).number = cur.read_number<double>();
      return true;
    case Step::NullOrString:
      if (!present()) return true;
      [[fallthrough]];
    case Step::String:
      text += (put(RawNode::Kind::String).text = cur.read_bytes()).size();
      return true;
    case Step::NullOrBytes:
      if (!present()) return true;
      [[fallthrough]];
    case Step::Bytes:
      text += (put(RawNode::Kind::Bytes).text = cur.read_bytes()).size();
      return true;
    case Step::Fixed:
      text += (put(RawNode::Kind::Bytes).text = cur.read_fixed(types_[type_id].count)).size();
      return true;
    case Step::Enum: {
      const PlanType& t = types_[type_id];
      const char* at = cur.p;
      int64_t index = cur.read_long();
      if (index < 0 || index >= t.count) [[unlikely]] fail_enum_index(at, index, t.count);
      text += (put(RawNode::Kind::String).text = plan_->symbol(t.first + static_cast<uint32_t>(index))).size();
      return true;
    }
    case Step::Union:
    case Step::Record:
    case Step::Array:
    case Step::Map:
      return false;
  }
  return false;
}

// Any value at the reader's position: a general union's branch, then its type's step.
__attribute__((noinline)) void DatumDecoder::decode_value(uint32_t type_id, uint32_t node, int depth) {
  const PlanType* t = &types_[type_id];
  if (t->step == Step::Union) {
    const char* at = in_->position();
    int64_t index = in_->read_long();
    if (index < 0 || index >= t->count) [[unlikely]] fail_union_branch(at, index, t->count);
    t = &types_[members_[t->first + static_cast<uint32_t>(index)]];
  }
  Cursor cur = Cursor::at(*in_);
  size_t text = 0;
  if (decode_flat(t->step, t->null_branch, static_cast<uint32_t>(t - types_), builder_.at(node), cur, text)) {
    cur.store();
    builder_.count_text(text);
    return;
  }
  switch (t->step) {
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
    default:  // unreachable: decode_flat wrote every other step (kept for -Wswitch)
      return;
  }
}

void DatumDecoder::fail_union_branch(const char* at, int64_t index, uint32_t count) const {
  in_->fail_at(at, "union branch " + std::to_string(index) + " out of range [0, " +
                       std::to_string(count) + ")");
}

void DatumDecoder::fail_enum_index(const char* at, int64_t index, uint32_t count) const {
  in_->fail_at(at, "enum index " + std::to_string(index) + " out of range [0, " + std::to_string(count) + ")");
}

// A record's fields (or the first of them) into nodes [first, first + count): the flat ones read
// in this loop on a local cursor, the others (records, arrays, maps, general unions) by
// decode_value at the reader's position, after which the node array may have moved.
void DatumDecoder::decode_fields(uint32_t members_first, uint32_t count, uint32_t first, int depth) {
  Cursor cur = Cursor::at(*in_);
  const uint32_t* const fields = members_ + members_first;
  const DecodePlan::MemberStep* const steps = member_steps_ + members_first;
  RawNode* nodes = &builder_.at(0) + first;
  size_t text = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (decode_flat(steps[i].step, steps[i].null_branch, fields[i], nodes[i], cur, text)) continue;
    cur.through_reader([&] { decode_value(fields[i], first + i, depth); });
    nodes = &builder_.at(0) + first;
  }
  cur.store();
  builder_.count_text(text);
}

__attribute__((noinline)) void DatumDecoder::decode_record(const PlanType& t, uint32_t node,
                                                           int depth) {
  if (depth >= kMaxDepth) in_->fail("values nested deeper than 256 levels");
  uint32_t first = builder_.begin_record(node, t.shape, RawRecordBuilder::Slots::unset);
  decode_fields(t.first, t.count, first, depth);
}

void DatumDecoder::start(const std::shared_ptr<const DecodePlan>& plan, ByteReader& reader) {
  plan_ = plan.get();
  types_ = plan_->types();
  members_ = plan_->members();
  member_steps_ = plan_->member_steps();
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
    decode_fields(root.first, root_fields, first, 1);
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

// A map's entry: its key, then its value.
void DatumDecoder::decode_entry(const PlanType& t, uint32_t node, int depth) {
  uint32_t entry = builder_.begin_record(node, t.shape, RawRecordBuilder::Slots::unset);
  builder_.set_string(entry, in_->read_bytes());
  decode_value(t.first, entry + 1, depth);
}

// A block's `count` items into nodes [first, first + count). An array's flat items (numbers,
// strings, ...) are read in this loop on a local cursor, as a record's fields are.
void DatumDecoder::decode_items(const PlanType& t, uint32_t first, int64_t count, int depth) {
  if (t.op == Op::Map) {
    for (int64_t i = 0; i < count; ++i) decode_entry(t, first + static_cast<uint32_t>(i), depth);
    return;
  }
  const PlanType& item = types_[t.first];
  Cursor cur = Cursor::at(*in_);
  RawNode* nodes = &builder_.at(0) + first;
  size_t text = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (decode_flat(item.step, item.null_branch, t.first, nodes[i], cur, text)) continue;
    cur.through_reader([&] { decode_value(t.first, first + static_cast<uint32_t>(i), depth); });
    nodes = &builder_.at(0) + first;
  }
  cur.store();
  builder_.count_text(text);
}

void DatumDecoder::decode_blocks(const PlanType& t, uint32_t node, int depth) {
  const char* start = in_->position();
  int64_t count = read_block_count(t, nullptr);
  uint32_t first =
      builder_.begin_list(node, static_cast<uint32_t>(count), RawRecordBuilder::Slots::unset);
  if (count == 0) return;
  if (builder_.size() > kMaxNodes) in_->fail("too many values in one record");
  decode_items(t, first, count, depth);
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
  while ((count = read_block_count(t, nullptr)) != 0) {
    decode_items(t, first + index, count, depth);
    index += static_cast<uint32_t>(count);
  }
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
