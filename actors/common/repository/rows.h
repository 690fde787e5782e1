// The values every repository backend derives from a record the same way (the SQLite writer and
// the PostgreSQL writer in actors/sinks/postgres): an annotation's fingerprint, the alert's own
// detection as a light-curve point, the key that de-duplicates light-curve points, a
// localization's shape name, a coincidence's terms as JSON, a sky event's credible-region MOCs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "engine/model/light_curve.h"
#include "engine/model/record.h"

namespace ebs::repository {

// Content and provenance of an annotation: the same annotation replayed has the same
// fingerprint; a new version, config or value makes a new row.
std::string annotation_fingerprint(const Annotation& annotation);
// The same 16 hex digits without a string on the heap (the writer's hot path).
using AnnotationFingerprint = std::array<char, 16>;
AnnotationFingerprint annotation_fingerprint_text(const Annotation& annotation);

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
  // What the set holds in memory, estimated from above (a tree node per point, one per band and
  // kind): the writers' light-curve caches are bounded in these bytes (lightcurve_cache_mb).
  size_t memory_bytes() const;
  // What a cache entry costs beside its set: the hash node, the object id, the set itself.
  static size_t entry_bytes(const std::string& object_id);

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

// The credible regions stored with a sky event (table sky_event_mocs): the 50 % and 90 % regions
// of its sky map at the map's maximum order (actors/common/skymap/credible_moc.h), as MOC 2.0
// JSON. None for an event without a map; a map that cannot be read raises a Fault naming `place`.
inline constexpr double kStoredCredibleLevels[] = {0.5, 0.9};
struct EventMoc {
  double level = 0;
  int max_order = 0;
  double area_deg2 = 0;
  int64_t cells = 0;
  std::string json;
};
std::vector<EventMoc> credible_mocs(const SkyEvent& event, const std::string& place);

}  // namespace ebs::repository
