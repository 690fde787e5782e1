// A dotted path into a RawRecord ("candidate.magpsf", "prv_candidates.0.jd") compiled once:
// each step remembers the field position it found for the last record shape it met, so a stream
// of one writer schema resolves names once and then walks positions (checking the name at the
// position, one short compare, instead of hashing it).
//
// The node-level `resolve(base, from, epoch)` is the mapping hot path: within one epoch a step
// whose name was checked against a shape trusts that shape's address from then on. An epoch is a
// span in which every shape met stays alive, so that the same address is the same shape: one
// record (it keeps its shapes alive), or every record of one decode plan that the profile holds
// (Profile::map's `shapes`). In a new epoch the name is checked again once (a freed schema's
// shape address may be reused).
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
  // `from` a node of it; nullptr when a step is missing. `epoch` (non-zero) names a span of
  // records whose shapes all stay alive through it (see above): a new value per record, or per
  // decode plan held while its records are mapped.
  // Inline fast path: each step on the shape it was last checked against in this epoch is one
  // index (a light-curve loop: every element has the same shape; a root path such as
  // `candidate.ra`: two indexes); any other step resolves the whole path the slow way.
  const RawNode* resolve(const RawNode* base, const RawNode* from, uint64_t epoch) const {
    const RawNode* at = from;
    for (const Step& step : steps_) {
      if (at == nullptr || at->kind != RawNode::Kind::Record || at->shape != step.shape ||
          step.checked_epoch != epoch || epoch == 0)
        return resolve_slowly(base, from, epoch);
      if (step.position < 0 || static_cast<uint32_t>(step.position) >= at->child_count) return nullptr;
      at = base + at->first_child + static_cast<uint32_t>(step.position);
    }
    return at;
  }
  // Where a one-step path's field is in records of `shape` (checked by name once per epoch, as
  // resolve does): its position, kMissing when the shape has no such field, kNotOneField when
  // the path is not one field name (several steps, or none).
  static constexpr int32_t kMissing = -1, kNotOneField = -2;
  int32_t position_in(const RecordShape* shape, uint64_t epoch) const {
    if (steps_.size() != 1 || shape == nullptr) return kNotOneField;
    const Step& step = steps_.front();
    return locate(step, shape, epoch) ? static_cast<int32_t>(step.position) : kMissing;
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
