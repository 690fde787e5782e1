// The values every repository backend derives from a record the same way (the SQLite writer and
// the PostgreSQL writer in actors/sinks/postgres): an annotation's fingerprint, the alert's own
// detection as a light-curve point, the key that de-duplicates light-curve points, a
// localization's shape name, a coincidence's terms as JSON.
#pragma once

#include <string>
#include <string_view>
#include <map>
#include <set>
#include <utility>

#include "engine/model/light_curve.h"
#include "engine/model/record.h"

namespace ebs::repository {

// Content and provenance of an annotation: the same annotation replayed has the same
// fingerprint; a new version, config or value makes a new row.
std::string annotation_fingerprint(const Annotation& annotation);

// A light-curve point's identity within its object (the lightcurve table's key without the object).
struct PointKey {
  double mjd_tai;
  Photometry::Kind kind;
  std::string band;
  bool operator==(const PointKey&) const = default;
};

// The points an object has: a point within kSamePointSeconds of one of the same kind and band is
// already there (engine/model/light_curve.h, the one duplicate rule).
class PointSet {
 public:
  bool contains(const PointKey& key) const;
  // Adds the point unless the same point is there; true when added.
  bool insert(PointKey key);
  size_t size() const;

 private:
  std::map<std::pair<Photometry::Kind, std::string>, std::set<double>> times_;
};

// Alert id columns (alert_id, last_alert_id): 64-bit, so every backend writes them into JSON as
// strings, which JavaScript's numbers and many JSON libraries would otherwise round.
inline bool is_alert_id_column(std::string_view name) { return name.ends_with("alert_id"); }

// The lightcurve.kind text back to the kind ("detection", "upper_limit", "forced").
Photometry::Kind photometry_kind(std::string_view name);

std::string_view shape_name(Localization::Shape shape);

// [{"name", "value" (null when not finite), "source"}, ...]
std::string terms_json(const Coincidence& coincidence);

}  // namespace ebs::repository
