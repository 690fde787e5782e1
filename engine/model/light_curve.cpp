#include "engine/model/light_curve.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <optional>

namespace ebs {

bool same_point(const Photometry& a, const Photometry& b) {
  return a.kind == b.kind && a.band == b.band && std::abs(a.mjd_tai - b.mjd_tai) <= kSamePointDays;
}

Photometry own_detection(const AlertCore& c) {
  Photometry own;
  own.mjd_tai = c.mjd_tai;
  own.band = c.band;
  own.kind = Photometry::Kind::detection;
  own.mag = c.mag;
  own.mag_err = c.mag_err;
  own.flux = c.flux;
  own.flux_err = c.flux_err;
  own.limit_mag = c.limit_mag;
  own.is_diff_pos = c.is_diff_pos;
  return own;
}

namespace {

// Band names are short ("g", "r", "i"): compared here without a call to memcmp for one letter.
inline bool same_band(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         (a.empty() || (a[0] == b[0] && (a.size() == 1 || std::memcmp(a.data() + 1, b.data() + 1, a.size() - 1) == 0)));
}

inline bool same_time(const Photometry& a, const Photometry& b) {
  return std::abs(a.mjd_tai - b.mjd_tai) <= kSamePointDays;
}

// distinct_points without a sort, for a history whose timed points run in time order within each
// kind and band, forwards or backwards (untimed ones anywhere), as alerts carry them: ZTF's
// prv_candidates oldest first, its fp_hists newest first. Each kind and band is then walked in
// time order as it stands, keeping the last kept point, instead of sorting indices with string
// compares (~2 % of the reference workflow's CPU: three calls per alert). Marks the points dropped
// kDropped in `group_of` (one entry per point) and says how many; nothing when a kind and band's
// times turn back, or tie in a backwards run (the sort's tie-break is the index): the caller sorts.
constexpr uint32_t kUntimed = UINT32_MAX, kDropped = UINT32_MAX - 1;
std::optional<size_t> mark_duplicates_in_time_order(const std::vector<Photometry>& history, const Photometry* own,
                                                    std::vector<uint32_t>& group_of) {
  // Each point's group (kind and band) in one array, not a list of indices per group: a call is
  // two allocations whatever the groups (three calls an alert; ~7.5 k instructions a call before).
  struct Group {
    const Photometry* first;  // names the kind and band
    uint32_t last;            // its latest point in input order
    int direction;            // +1 forwards in time, -1 backwards, 0 not known yet
    bool tie;                 // two of its points at one time
    const Photometry* kept;   // the last point kept, in the walk below
  };
  std::vector<Group> groups;
  groups.reserve(8);
  group_of.assign(history.size(), kUntimed);  // untimed: no time, no duplicate to find
  auto in_group = [&](uint32_t g, const Photometry& p) {
    return groups[g].first->kind == p.kind && same_band(groups[g].first->band, p.band);
  };
  uint32_t last_group = 0;  // the group of the point before: tried first (groups are distinct)
  for (uint32_t i = 0; i < history.size(); ++i) {
    const Photometry& p = history[i];
    if (!std::isfinite(p.mjd_tai)) continue;
    uint32_t g = 0;
    if (last_group < groups.size() && in_group(last_group, p)) {
      g = last_group;
    } else {
      while (g < groups.size() && !in_group(g, p)) ++g;
    }
    last_group = g;
    group_of[i] = g;
    if (g == groups.size()) {
      groups.push_back(Group{&p, i, 0, false, nullptr});
      continue;
    }
    Group& group = groups[g];
    const double previous = history[group.last].mjd_tai;
    const int step = p.mjd_tai > previous ? 1 : p.mjd_tai < previous ? -1 : 0;
    if (step == 0) group.tie = true;
    if (step != 0 && group.direction == 0) group.direction = step;
    if (step != 0 && step != group.direction) return std::nullopt;
    if (group.tie && group.direction < 0) return std::nullopt;
    group.last = i;
  }
  // The group of the alert's own point: a point is the same as `own` when in that group and at its
  // time, and as its group's last kept point when at that point's time (same_point, the kind and
  // band compared once per group).
  uint32_t own_group = kUntimed;
  for (uint32_t g = 0; own && g < groups.size(); ++g)
    if (in_group(g, *own)) own_group = g;
  // Each group in time order: forwards ones in input order, backwards ones in reverse.
  size_t dropped = 0;
  auto visit = [&](uint32_t i, bool forwards) {
    if (group_of[i] >= kDropped) return;  // untimed, or dropped by the forwards pass
    Group& group = groups[group_of[i]];
    if ((group.direction >= 0) != forwards) return;
    const Photometry& p = history[i];
    if ((group_of[i] == own_group && same_time(*own, p)) || (group.kept && same_time(*group.kept, p)))
      group_of[i] = kDropped, ++dropped;
    else
      group.kept = &p;
  };
  for (uint32_t i = 0; i < history.size(); ++i) visit(i, true);
  for (uint32_t i = static_cast<uint32_t>(history.size()); i-- > 0;) visit(i, false);
  return dropped;
}

// distinct_points by sorting indices by kind, band and time: any history.
std::vector<uint32_t> distinct_points_by_sort(const std::vector<Photometry>& history, const Photometry* own) {
  std::vector<uint32_t> order(history.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Photometry& x = history[a];
    const Photometry& y = history[b];
    if (x.kind != y.kind) return x.kind < y.kind;
    if (x.band != y.band) return x.band < y.band;
    // Untimed points (NaN, infinite) last in their kind and band: compared by time they would break
    // the sort's ordering (NaN is neither less nor greater), and could split a run of timed points.
    const bool x_timed = std::isfinite(x.mjd_tai), y_timed = std::isfinite(y.mjd_tai);
    if (x_timed != y_timed) return x_timed;
    if (x_timed && x.mjd_tai != y.mjd_tai) return x.mjd_tai < y.mjd_tai;
    return a < b;
  });
  std::vector<bool> keep(history.size(), false);
  const Photometry* last = nullptr;  // the last point kept in this kind and band
  for (uint32_t i : order) {
    const Photometry& p = history[i];
    if (last && (last->kind != p.kind || last->band != p.band)) last = nullptr;
    if (!std::isfinite(p.mjd_tai)) {
      keep[i] = true;  // no time, no duplicate to find
      continue;
    }
    if ((own && same_point(*own, p)) || (last && same_point(*last, p))) continue;
    keep[i] = true;
    last = &p;
  }
  std::vector<uint32_t> out;
  out.reserve(history.size());
  for (uint32_t i = 0; i < history.size(); ++i)
    if (keep[i]) out.push_back(i);
  return out;
}

}  // namespace

std::vector<uint32_t> distinct_points(const std::vector<Photometry>& history, const Photometry* own) {
  std::vector<uint32_t> group_of;
  if (std::optional<size_t> dropped = mark_duplicates_in_time_order(history, own, group_of)) {
    std::vector<uint32_t> out;
    out.reserve(history.size() - *dropped);
    for (uint32_t i = 0; i < history.size(); ++i)
      if (group_of[i] != kDropped) out.push_back(i);
    return out;
  }
  return distinct_points_by_sort(history, own);
}

void remove_duplicate_points(AlertCore& core) {
  Photometry own = own_detection(core);
  const Photometry* own_point = std::isfinite(own.mjd_tai) ? &own : nullptr;
  std::vector<Photometry> history;
  // The usual case, points in time order: no list of the kept points when none is dropped.
  std::vector<uint32_t> group_of;
  if (std::optional<size_t> dropped = mark_duplicates_in_time_order(core.history, own_point, group_of)) {
    if (*dropped == 0) return;
    history.reserve(core.history.size() - *dropped);
    for (uint32_t i = 0; i < core.history.size(); ++i)
      if (group_of[i] != kDropped) history.push_back(std::move(core.history[i]));
  } else {
    std::vector<uint32_t> kept = distinct_points_by_sort(core.history, own_point);  // not marking again
    if (kept.size() == core.history.size()) return;
    history.reserve(kept.size());
    for (uint32_t i : kept) history.push_back(std::move(core.history[i]));
  }
  core.history = std::move(history);
  count_history_detections(core);
}

}  // namespace ebs
