// One rule for light-curve duplicates, used by the profiles (a mapped alert's history), the
// repositories (points already stored for an object) and the feature extractor alike
// (docs/ingestion.md, "Light-curve points"):
//   two points are one measurement when they have the same kind and band and their times are
//   within 0.1 s; the alert's own detection wins over a history point, otherwise the first kept.
// Old ZTF alerts repeat a history detection at the alert's own time, or twice with different
// last digits of jd; counted twice, live features differed from the training export.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/record.h"

namespace ebs {

inline constexpr double kSamePointSeconds = 0.1;
inline constexpr double kSamePointDays = kSamePointSeconds / 86400.0;

bool same_point(const Photometry& a, const Photometry& b);

// The alert's own measurement as a detection point of its object's light curve (with the limiting
// magnitude of its image, as later alerts' histories carry it).
Photometry own_detection(const AlertCore& core);

// Positions in `history` of the points to keep: none that is the same point as `own` (when given)
// or as a point kept before it (in time order). In input order; O(n log n).
std::vector<uint32_t> distinct_points(const std::vector<Photometry>& history, const Photometry* own);

// Removes from `core.history` the points distinct_points drops (own = the alert's detection), and
// recounts its detections when it drops any.
void remove_duplicate_points(AlertCore& core);

}  // namespace ebs
