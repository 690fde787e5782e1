// The values every repository backend derives from a record the same way (the SQLite writer and
// the PostgreSQL writer in actors/sinks/postgres): an annotation's fingerprint, the alert's own
// detection as a light-curve point, the key that de-duplicates light-curve points, a
// localization's shape name, a coincidence's terms as JSON.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "engine/model/record.h"

namespace ebs::repository {

// Content and provenance of an annotation: the same annotation replayed has the same
// fingerprint; a new version, config or value makes a new row.
std::string annotation_fingerprint(const Annotation& annotation);

// The alert's own measurement as a detection point of its object's light curve.
Photometry own_detection(const AlertCore& core);

// A light-curve point's identity within its object (the lightcurve table's key without the object).
struct PointKey {
  double mjd_tai;
  Photometry::Kind kind;
  std::string band;
  bool operator==(const PointKey&) const = default;
};
struct PointKeyHash {
  size_t operator()(const PointKey& key) const;
};
using PointSet = std::unordered_set<PointKey, PointKeyHash>;

// The lightcurve.kind text back to the kind ("detection", "upper_limit", "forced").
Photometry::Kind photometry_kind(std::string_view name);

std::string_view shape_name(Localization::Shape shape);

// [{"name", "value" (null when not finite), "source"}, ...]
std::string terms_json(const Coincidence& coincidence);

}  // namespace ebs::repository
