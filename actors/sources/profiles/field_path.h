// A dotted path into a RawRecord ("candidate.magpsf", "prv_candidates.0.jd") compiled once:
// each step remembers the field position it found for the last record shape it met, so a stream
// of one writer schema resolves names once and then walks positions (checking the name at the
// position, one short compare, instead of hashing it).
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
  };
  std::vector<Step> steps_;
  std::string text_;
};

}  // namespace ebs::profiles
