// Credible regions of a sky map as IVOA MOC 2.0 space coverages (the JSON serialisation here;
// FITS in actors/followup/moc_fits.h). The repository stores them with each sky event.
//
// The region at `level` holds the map's pixels ranked by descending density (the Skymap's own
// ranking, ligo.skymap's) whose cumulative probability is <= level, plus, of the pixel where the
// cumulative probability crosses the level, as many of its children at the MOC order as the rest
// of the level fills (the highest nested indices first: a flat map's tie order). Its area is so
// within one pixel at the MOC order of credible_area(level), the interpolated searched area.
// Cells are normalised (no four siblings left unmerged, no overlaps) and sorted by ascending
// NUNIQ (order, then index), as MOC 2.0 says.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/common/skymap/skymap.h"

namespace ebs::skymap {

struct Moc {
  int max_order = 0;                // MOCORD_S
  std::vector<std::uint64_t> uniq;  // NUNIQ cells, ascending
  double area_deg2() const;
  // Whether the nested pixel `ipix` at `order` (>= every cell's order) lies in a cell.
  bool contains(int order, std::uint64_t ipix) const;
};

// Normalised MOC of a set of nested pixel ranges [start, end) at `order` (unsorted, may overlap).
Moc moc_from_ranges(int order, std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges);

// The credible region at `level` (0 < level <= 1). `max_order` < 0: the map's maximum order; a
// lower order than the map's keeps every cell touching the region (a superset).
Moc credible_region_moc(const Skymap& map, double level, int max_order = -1);

// MOC 2.0 JSON: {"order": [ipix, ...], ...}, orders ascending, the maximum order present (with
// an empty list when it has no cell).
nlohmann::ordered_json moc_to_json(const Moc& moc);

}  // namespace ebs::skymap
