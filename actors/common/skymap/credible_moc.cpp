#include "actors/common/skymap/credible_moc.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "engine/util/fault.h"

namespace ebs::skymap {

namespace {

constexpr double square_degrees_per_steradian = (180.0 / M_PI) * (180.0 / M_PI);

}  // namespace

double Moc::area_deg2() const {
  double sr = 0;
  for (std::uint64_t cell : uniq) sr += pixel_area(uniq_order(cell));
  return sr * square_degrees_per_steradian;
}

bool Moc::contains(int order, std::uint64_t ipix) const {
  // A cell at order o holds ipix iff ipix >> 2(order - o) is its index: one lookup per order.
  for (int o = 0; o <= std::min(order, max_order); ++o) {
    const std::uint64_t cell = nest_to_uniq(o, ipix >> (2 * (order - o)));
    if (std::binary_search(uniq.begin(), uniq.end(), cell)) return true;
  }
  return false;
}

Moc moc_from_ranges(int order, std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges) {
  Moc moc;
  moc.max_order = order;
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<std::uint64_t, std::uint64_t>> merged;
  for (const auto& range : ranges) {
    if (range.first >= range.second) continue;
    if (!merged.empty() && range.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, range.second);
    else
      merged.push_back(range);
  }
  // Each merged range as the fewest aligned cells: the largest cell that starts at `start` and
  // fits in the range, then on.
  for (auto [start, end] : merged) {
    while (start < end) {
      int depth = order;  // cells of 4^(order - depth) pixels
      while (depth > 0) {
        const std::uint64_t size = std::uint64_t{1} << (2 * (order - depth + 1));
        if (start % size != 0 || start + size > end) break;
        --depth;
      }
      const std::uint64_t size = std::uint64_t{1} << (2 * (order - depth));
      moc.uniq.push_back(nest_to_uniq(depth, start / size));
      start += size;
    }
  }
  std::sort(moc.uniq.begin(), moc.uniq.end());
  return moc;
}

Moc credible_region_moc(const Skymap& map, double level, int max_order) {
  if (!(level > 0 && level <= 1)) fail(map.source(), "credible level " + std::to_string(level) + " is not in (0, 1]");
  const int order = map.max_order();
  const int moc_order = max_order < 0 ? order : max_order;
  if (moc_order > max_healpix_order)
    fail(map.source(), "MOC order " + std::to_string(moc_order) + " is above 29");
  auto uniq = map.ranked_uniq();
  auto density = map.ranked_probdensity();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // at the map's maximum order
  double cumulative = 0;  // the same sequential sum as the map's cumulative probability
  for (std::size_t rank = 0; rank < uniq.size(); ++rank) {
    const int pixel_order = uniq_order(uniq[rank]);
    const int shift = 2 * (order - pixel_order);
    const std::uint64_t start = uniq_ipix(uniq[rank], pixel_order) << shift;
    const std::uint64_t children = std::uint64_t{1} << shift;
    const double next = cumulative + density[rank] * pixel_area(pixel_order);
    if (next <= level) {
      ranges.emplace_back(start, start + children);
      cumulative = next;
      continue;
    }
    // The crossing pixel: the children that the rest of the level fills, highest index first.
    const double child = density[rank] * pixel_area(order);
    const double fill = child > 0 ? std::floor((level - cumulative) / child) : 0;
    const std::uint64_t count = std::min<std::uint64_t>(children, static_cast<std::uint64_t>(std::max(0.0, fill)));
    ranges.emplace_back(start + children - count, start + children);
    break;
  }
  if (moc_order >= order) {
    // Finer than the map: the same cells, the order keyword says the resolution.
    Moc moc = moc_from_ranges(order, std::move(ranges));
    moc.max_order = moc_order;
    return moc;
  }
  const int coarser = 2 * (order - moc_order);
  for (auto& [start, end] : ranges) {
    start >>= coarser;
    end = ((end - 1) >> coarser) + 1;
  }
  return moc_from_ranges(moc_order, std::move(ranges));
}

nlohmann::ordered_json moc_to_json(const Moc& moc) {
  std::map<int, std::vector<std::uint64_t>> by_order;
  for (std::uint64_t cell : moc.uniq) {
    const int order = uniq_order(cell);
    by_order[order].push_back(uniq_ipix(cell, order));
  }
  by_order[moc.max_order];  // the MOC order, even without cells there
  // Keys in numeric order (a sorted json object would put "10" before "9").
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [order, cells] : by_order) out[std::to_string(order)] = cells;
  return out;
}

}  // namespace ebs::skymap
