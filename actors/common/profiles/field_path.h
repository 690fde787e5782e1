// A dotted path into a RawRecord ("candidate.magpsf", "prv_candidates.0.jd") compiled once:
// each step remembers the field position it found for the last record shape it met, so a stream
// of one writer schema resolves names once and then walks positions (checking the name at the
// position, one short compare, instead of hashing it).
//
// The node-level `resolve(base, from, epoch)` is the mapping hot path: within one epoch (one
// record being mapped) a step whose name was checked against a shape trusts that shape's address
// from then on: the record keeps its shapes alive, so the same address is the same shape. Across
// records the name is checked again once (a freed schema's shape address may be reused).
//
// Not thread-safe (the position memo is written on reads): each source instance owns its
// profiles and so its paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/raw_record.h"

namespace ebs::profiles {

class FieldPath {
 public:
  FieldPath() = default;
  explicit FieldPath(std::string_view dotted);

  // The node at the path from `from`, or an invalid view when a step is missing (a field the
  // shape does not have, a null on the way, a list index out of range).
  RawView resolve(RawView from) const;
  // The same on raw nodes: `base` is the record's node array (RawRecord::nodes().data()),
  // `from` a node of it; nullptr when a step is missing. `epoch` (non-zero) names the record
  // being mapped: pass a new value per record, the same for every path read from it.
  // Inline fast path: a one-step path on the shape it was last checked against in this epoch
  // is one index (the usual case in a light-curve loop: every element has the same shape).
  const RawNode* resolve(const RawNode* base, const RawNode* from, uint64_t epoch) const {
    if (steps_.size() == 1 && from != nullptr && from->kind == RawNode::Kind::Record) {
      const Step& step = steps_.front();
      if (from->shape == step.shape && step.checked_epoch == epoch && epoch != 0) {
        if (step.position < 0 || static_cast<uint32_t>(step.position) >= from->child_count) return nullptr;
        return base + from->first_child + static_cast<uint32_t>(step.position);
      }
    }
    return resolve_slowly(base, from, epoch);
  }
  // True when the path exists (its value may be null): "does this schema have the field".
  bool present(RawView from) const { return resolve(from).valid(); }

  const std::string& text() const { return text_; }
  bool empty() const { return steps_.empty(); }

 private:
  struct Step {
    std::string name;
    int64_t list_index = -1;  // a numeric step indexes a list
    mutable const RecordShape* shape = nullptr;  // the shape `position` was found in
    mutable int64_t position = -1;               // -1: the shape has no such field
    mutable uint64_t checked_epoch = 0;          // the epoch `shape` was last checked in
  };
  const RawNode* resolve_slowly(const RawNode* base, const RawNode* from, uint64_t epoch) const;
  // Whether a record of `shape` has the step's field (its position memoized in the step).
  static bool locate(const Step& step, const RecordShape* shape, uint64_t epoch);
  std::vector<Step> steps_;
  std::string text_;
};

}  // namespace ebs::profiles
