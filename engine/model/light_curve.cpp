#include "engine/model/light_curve.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

std::vector<uint32_t> distinct_points(const std::vector<Photometry>& history, const Photometry* own) {
  std::vector<uint32_t> order(history.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Photometry& x = history[a];
    const Photometry& y = history[b];
    if (x.kind != y.kind) return x.kind < y.kind;
    if (x.band != y.band) return x.band < y.band;
    if (x.mjd_tai != y.mjd_tai) return x.mjd_tai < y.mjd_tai;
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

void remove_duplicate_points(AlertCore& core) {
  Photometry own = own_detection(core);
  std::vector<uint32_t> kept = distinct_points(core.history, std::isfinite(own.mjd_tai) ? &own : nullptr);
  if (kept.size() == core.history.size()) return;
  std::vector<Photometry> history;
  history.reserve(kept.size());
  for (uint32_t i : kept) history.push_back(std::move(core.history[i]));
  core.history = std::move(history);
  count_history_detections(core);
}

}  // namespace ebs
