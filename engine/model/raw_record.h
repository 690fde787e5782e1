// A survey's record exactly as decoded (e.g. a ZTF Avro alert), kept so that filters and sinks
// can reach any raw field by path ("candidate.drb", "diaSource.psfFlux").
//
// The tree is flat and immutable: nodes live in one array, record field names live in shared
// RecordShape objects (one per writer-schema record type, shared by every alert of that schema),
// and strings/bytes point into the original message buffer, which the tree keeps alive.
//
// Speed: a ZTF alert is ~2,000 nodes, so a node is kept to 32 bytes (the value members share a
// union: read the one `kind` names) and a decoder may reserve child slots without initialising
// them, since it writes every slot anyway (Slots::unset).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ebs {

// Field names of one record type; built once per schema, shared by all records of that schema.
struct RecordShape {
  std::string name;                 // fully qualified record name, e.g. "ztf.alert.candidate"
  std::vector<std::string> fields;  // in schema order
  std::unordered_map<std::string, uint32_t> index;  // field name -> position in `fields`
  // Per field, whether its writer type admits null (a union with null); empty when the writer
  // gave no types (JSON, the simulator). Profiles tell schema versions apart by it.
  std::vector<bool> nullable;

  RecordShape() = default;
  RecordShape(std::string record_name, std::vector<std::string> field_names);
  std::optional<uint32_t> find(std::string_view field) const;
};

// One value. Only the member that `kind` names is meaningful (they share storage); the child
// range is 0/0 for every kind but List and Record, so a loop over children needs no kind check.
struct RawNode {
  enum class Kind : uint8_t { Null, Bool, Int, Double, String, Bytes, List, Record };
  Kind kind = Kind::Null;
  bool boolean = false;            // Bool
  uint32_t first_child = 0;        // List and Record: children are nodes [first, first + count)
  uint32_t child_count = 0;
  union {
    std::string_view text{};       // String and Bytes: points into the kept buffers
    int64_t integer;               // Int
    double number;                 // Double
    const RecordShape* shape;      // Record: names of the children, in order
  };
};
static_assert(sizeof(RawNode) == 32, "RawNode grew: every alert holds thousands of them");

class RawRecord;

// A read-only view of one node of a RawRecord.
class RawView {
 public:
  RawView() = default;
  RawView(const RawRecord* record, uint32_t node) : record_(record), node_(node) {}

  bool valid() const { return record_ != nullptr; }
  RawNode::Kind kind() const;
  bool is_null() const { return !valid() || kind() == RawNode::Kind::Null; }
  const RawNode& node() const;

  // Record access: a missing field gives an invalid view (which reads as null).
  RawView field(std::string_view name) const;
  // Dotted path from this node, e.g. "candidate.rb"; list elements by index "prv_candidates.0.jd".
  RawView path(std::string_view dotted) const;
  size_t size() const;          // children of a List or Record
  RawView child(size_t i) const;
  std::string_view field_name(size_t i) const;  // Record only

  std::optional<double> as_double() const;      // Int, Double, Bool
  std::optional<int64_t> as_int() const;
  std::optional<std::string_view> as_string() const;  // String or Bytes

 private:
  const RawRecord* record_ = nullptr;
  uint32_t node_ = 0;
};

namespace detail {
// Node arrays live in malloc'd memory (RawNode is an implicit-lifetime aggregate) so that a
// builder can grow them with realloc and hand them to the record without a copy.
struct FreeNodes {
  void operator()(RawNode* nodes) const { std::free(nodes); }
};
using NodeArray = std::unique_ptr<RawNode[], FreeNodes>;
}  // namespace detail

class RawRecord {
 public:
  RawRecord() = default;
  // node 0 is the root. `keep_alive` owns every buffer that String/Bytes views point into;
  // `shapes` owns every RecordShape that Record nodes point to.
  RawRecord(std::span<const RawNode> nodes, std::shared_ptr<const void> keep_alive,
            std::shared_ptr<const void> shapes);
  RawRecord(const RawRecord& other);
  RawRecord& operator=(const RawRecord& other);
  RawRecord(RawRecord&&) noexcept = default;
  RawRecord& operator=(RawRecord&&) noexcept = default;

  RawView root() const { return size_ == 0 ? RawView() : RawView(this, 0); }
  RawView path(std::string_view dotted) const { return root().path(dotted); }
  std::span<const RawNode> nodes() const { return {nodes_.get(), size_}; }
  bool empty() const { return size_ == 0; }
  // What its nodes and the texts they view take (record_bytes, the credit windows' measure):
  // summed once when the record is made, since every edge asks for it.
  size_t bytes() const { return bytes_; }

 private:
  friend class RawView;
  friend class RawRecordBuilder;
  // `bytes`: what the builder counted (its nodes and the texts they view).
  RawRecord(detail::NodeArray nodes, size_t size, std::shared_ptr<const void> keep_alive,
            std::shared_ptr<const void> shapes, size_t bytes);
  detail::NodeArray nodes_;
  size_t size_ = 0;
  std::shared_ptr<const void> keep_alive_;
  std::shared_ptr<const void> shapes_;
  size_t bytes_ = 0;
};

// Builds a RawRecord depth-first. Children of a List/Record must be contiguous, so a builder
// reserves the parent's child slots first (begin_*), then fills them (set_* at the slot).
class RawRecordBuilder {
 public:
  // Reserved child slots start as Null, or (unset) uninitialised: for a decoder that sets
  // every slot itself (with set_* or `at(slot) = RawNode{...}`), which saves a pass over them.
  enum class Slots { null, unset };

  uint32_t add_root();  // returns 0
  // Reserve consecutive child slots under `node`, which becomes a Record / a List.
  uint32_t begin_record(uint32_t node, const RecordShape* shape, Slots slots = Slots::null);
  uint32_t begin_list(uint32_t node, uint32_t count, Slots slots = Slots::null);
  void set_null(uint32_t node);
  void set_bool(uint32_t node, bool v);
  void set_int(uint32_t node, int64_t v);
  void set_double(uint32_t node, double v);
  void set_string(uint32_t node, std::string_view v);
  void set_bytes(uint32_t node, std::string_view v);
  // A decoder that writes String/Bytes nodes itself (`at`) says how long their texts are: the
  // record's bytes() is summed as it is built, not by a walk over its nodes at finish (a ZTF
  // alert's ~2,000 nodes: ~8 % of decoding it). set_string/set_bytes count theirs. Each slot
  // is written once; an overwritten text would be counted twice (more, never less).
  void count_text(size_t bytes) { text_bytes_ += bytes; }
  size_t size() const { return size_; }
  // Room for `count` nodes: a decoder that knows a typical record size avoids regrowing.
  void reserve(size_t count) {
    if (count > capacity_) grow_to(count);
  }
  RawNode& at(uint32_t node) { return nodes_[node]; }
  // Hands the nodes to the record (no copy); the builder starts empty again.
  RawRecord finish(std::shared_ptr<const void> keep_alive, std::shared_ptr<const void> shapes);
  void reset() {
    size_ = 0;
    text_bytes_ = 0;
  }

 private:
  uint32_t reserve_children(uint32_t count, Slots slots);
  void grow_to(size_t count);
  detail::NodeArray nodes_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t text_bytes_ = 0;  // of the String/Bytes nodes written (count_text)
};

}  // namespace ebs
