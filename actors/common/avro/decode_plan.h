// A writer schema compiled into a decode plan: a flat table of types that the datum decoder walks
// over the Avro binary. Parsing the schema JSON (20-100 KB for survey alerts) costs far more than
// decoding one record, so a plan is compiled once per distinct schema text and shared.
//
// The plan also owns what decoded records point to: one RecordShape per record type (field names)
// and the enum symbols. A RawRecord keeps its plan alive through its `shapes` pointer.
//
// Rejected: malformed JSON, unknown type names, duplicate field names (libavro 1.11 accepts them),
// duplicate enum symbols, redefined names, nested or ambiguous unions, invalid names.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/raw_record.h"

namespace ebs::avro {

struct PlanType {
  enum class Op : uint8_t {
    Null, Boolean, Int, Long, Float, Double, String, Bytes,
    Enum, Fixed, Record, Array, Map, Union
  };
  // How the datum decoder decodes a type: its op (same value), except for a union of null and one
  // primitive, either order (most survey fields), fused into one step that reads the branch and
  // the value (docs/performance.md). Only the decoder's hot loop switches on it.
  enum class Step : uint8_t {
    Null, Boolean, Int, Long, Float, Double, String, Bytes,
    Enum, Fixed, Record, Array, Map, Union,
    NullOrBoolean, NullOrInt, NullOrLong, NullOrFloat, NullOrDouble, NullOrString, NullOrBytes
  };
  static constexpr Step step_of(Op op) { return static_cast<Step>(op); }
  Op op = Op::Null;
  Step step = Step::Null;
  uint8_t null_branch = 0;  // NullOr* steps: the null branch's index (0 or 1)
  // Record: fields' type ids at members[first, first+count). Union: branches, likewise.
  // Array/Map: `first` is the item/value type id. Enum: symbols[first, first+count).
  // Fixed: `count` is the size in bytes.
  uint32_t first = 0;
  uint32_t count = 0;
  // A lower bound of the encoded size, to reject absurd array/map counts before reserving nodes.
  uint32_t min_size = 0;
  const RecordShape* shape = nullptr;  // Record: field names. Map: the {key, value} entry shape.
};
static_assert(PlanType::step_of(PlanType::Op::Union) == PlanType::Step::Union &&
                  PlanType::step_of(PlanType::Op::Null) == PlanType::Step::Null,
              "Step repeats Op's values first: step_of casts");

class DecodePlan {
 public:
  // A member's type's step and null branch (PlanType), side by side with members(): a record's
  // loop reads its fields' steps from one array instead of each field's type.
  struct MemberStep {
    PlanType::Step step;
    uint8_t null_branch;
  };

  // Compiles a writer schema. `place` names where the schema came from, for error messages.
  static std::shared_ptr<const DecodePlan> compile(std::string_view schema_json,
                                                   std::string_view place);

  uint32_t root() const { return root_; }
  const PlanType& type(uint32_t id) const { return types_[id]; }
  size_t type_count() const { return types_.size(); }
  uint32_t member(uint32_t index) const { return members_[index]; }
  const PlanType* types() const { return types_.data(); }
  const uint32_t* members() const { return members_.data(); }
  const MemberStep* member_steps() const { return member_steps_.data(); }
  std::string_view symbol(uint32_t index) const { return symbols_[index]; }
  // The full name of the root type (e.g. "ztf.alert", "lsst.v11_0.alert", "topLevelRecord").
  const std::string& root_name() const { return root_name_; }

 private:
  friend class SchemaCompiler;
  std::vector<PlanType> types_;
  std::vector<uint32_t> members_;
  std::vector<MemberStep> member_steps_;  // filled once every type is compiled
  std::vector<std::string> symbols_;
  std::deque<RecordShape> shapes_;  // deque: addresses stay put while compiling
  uint32_t root_ = 0;
  std::string root_name_;
};

// The shape of one map entry: {key, value}. Maps decode to a List of such Records.
inline constexpr std::string_view kMapEntryShapeName = "avro.map.entry";

}  // namespace ebs::avro
