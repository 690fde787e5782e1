// An indexed catalogue loaded for cone queries (the .ebscat file written by catalog_builder).
//
// In memory: unit vectors (3 doubles) of all sources sorted by nested HEALPix pixel, an offsets
// table at the index order (about one source per pixel) and, for catalogues with proper motions,
// two fixed-point ints per source: ~29-37 bytes per source. Pixels are contiguous ranges of the
// sorted arrays. A cone query (radius widened by the fastest proper motion) takes, by radius:
//   tiny:  the index pixel alone when the target's finest sub-pixel whose 3x3 block holds the
//          disc lies inside it (most arcsecond queries), else
//   small: the index pixel and the 3 neighbours at the corner the target is nearest (2x2);
//   wider: the pixel and its 8 neighbours at the finest order whose 3x3 block holds the disc;
//   > ~30 deg: healpix_cxx query_disc_inclusive at a coarse order.
// Queries are const and thread-safe; row access locks.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/common/catalog/catalog_format.h"
#include "actors/common/catalog/sky_geometry.h"

namespace ebs::catalog {


struct Match {
  uint32_t index = 0;  // source index, for Catalog::row
  double sep_arcsec = 0;
};

struct CatalogInfo {
  std::string name, version, description, object_type;
  std::string source_file, content_hash;
  std::string epoch_label, magnitude_band;
  std::optional<double> epoch_mjd;
  size_t rows = 0;
  int64_t skipped_rows = 0;
  int index_order = 0;
  double max_proper_motion_mas_per_yr = 0;
  nlohmann::json fields;  // field -> source column [unit]
  std::vector<std::string> extra_columns;
};

// One source's columns, fetched from the file on demand (for annotations, not per query).
struct CatalogRow {
  uint32_t index = 0;
  double ra_deg = 0, dec_deg = 0;
  std::optional<double> pmra_mas_per_yr, pmdec_mas_per_yr, redshift, distance_mpc, semi_major_arcsec,
      axis_ratio, position_angle_deg, magnitude;
  std::optional<std::string> id, type;
  nlohmann::json extra = nlohmann::json::object();  // kept columns by name (null when empty)
};
// The row's present fields as a JSON object (absent fields left out, extras under "extra").
nlohmann::json to_json(const CatalogRow& row);

class Catalog {
 public:
  // Loads the index of a .ebscat file; a Fault names the file if it is missing or not a catalogue.
  explicit Catalog(const std::filesystem::path& path);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  const CatalogInfo& info() const { return info_; }
  size_t size() const { return positions_.size(); }
  // Bytes held by the in-memory index (positions, offsets, proper motions) per source.
  double index_bytes_per_source() const;

  // The closest source within the radius, if any. `epoch_mjd` (e.g. the alert's MJD) moves
  // sources with proper motions from the catalogue epoch; without it positions are taken as is.
  std::optional<Match> nearest(double ra_deg, double dec_deg, double radius_arcsec,
                               std::optional<double> epoch_mjd = std::nullopt) const;
  // All sources within the radius, nearest first (ties by index). `out` is cleared first and
  // reused, so a caller keeping it allocates nothing per query.
  void all_within(double ra_deg, double dec_deg, double radius_arcsec, std::vector<Match>& out,
                  std::optional<double> epoch_mjd = std::nullopt) const;
  std::vector<Match> all_within(double ra_deg, double dec_deg, double radius_arcsec,
                                std::optional<double> epoch_mjd = std::nullopt) const;
  // Calls visit(index, sep_arcsec) for every source within the radius, in index order.
  template <class Visit>
  void for_each_within(double ra_deg, double dec_deg, double radius_arcsec, std::optional<double> epoch_mjd,
                       Visit&& visit) const;

  CatalogRow row(uint32_t index) const;
  // The source's unit vector at the catalogue epoch.
  const UnitVector& position(uint32_t index) const { return positions_[index]; }

 private:
  struct Range {
    uint32_t begin, end;
  };
  // Contiguous index ranges that together hold every source within `radius_rad` of `target`.
  struct Ranges {
    std::array<Range, 9> near{};
    size_t count = 0;
    std::vector<Range> far;  // only for the query_disc_inclusive fallback
  };
  void candidate_ranges(const UnitVector& target, double radius_rad, Ranges& out) const;

  struct HealpixBases;
  CatalogInfo info_;
  std::vector<UnitVector> positions_;
  std::vector<uint32_t> offsets_;                    // 12 * 4^index_order + 1
  // Proper motions in units of kProperMotionStep (fixed point: 8 bytes, yet 0.25 uas after 50 years),
  // empty when the catalogue has none.
  std::vector<std::array<int32_t, 2>> proper_motions_;
  std::vector<double> max_radius_at_order_;          // radius (rad) the 3x3 block covers
  std::unique_ptr<HealpixBases> bases_;
  double max_pm_rad_per_yr_ = 0;
  double epoch_mjd_ = 0;

  std::filesystem::path path_;
  struct RowReader;
  std::unique_ptr<RowReader> rows_;
  mutable std::mutex rows_mutex_;
};

template <class Visit>
void Catalog::for_each_within(double ra_deg, double dec_deg, double radius_arcsec, std::optional<double> epoch_mjd,
                              Visit&& visit) const {
  if (positions_.empty() || !(radius_arcsec >= 0)) return;
  const UnitVector target = unit_vector(ra_deg, dec_deg);
  const double radius = radius_arcsec / kArcsecPerRad;
  const double years = epoch_mjd && !proper_motions_.empty() ? (*epoch_mjd - epoch_mjd_) / kDaysPerJulianYear : 0.0;
  const bool moving = years != 0.0;
  const double search = radius + max_pm_rad_per_yr_ * std::abs(years);
  // Chord-length prefilter (no trigonometry), with a margin far above rounding; the exact
  // separation then decides.
  const double half = std::min(search, kPi) / 2;
  const double chord2_limit = 4 * std::sin(half) * std::sin(half) * (1 + 1e-9) + 1e-24;
  Ranges ranges;
  candidate_ranges(target, search, ranges);
  auto scan = [&](Range range) {
    for (uint32_t i = range.begin; i < range.end; ++i) {
      const UnitVector& p = positions_[i];
      const double dx = p.x - target.x, dy = p.y - target.y, dz = p.z - target.z;
      if (dx * dx + dy * dy + dz * dz > chord2_limit) continue;
      const double sep = moving ? separation_rad(propagate_proper_motion(p, proper_motions_[i][0] * kProperMotionStep,
                                                                         proper_motions_[i][1] * kProperMotionStep, years),
                                                 target)
                                : separation_rad(p, target);
      if (sep <= radius) visit(i, sep * kArcsecPerRad);
    }
  };
  for (size_t k = 0; k < ranges.count; ++k) scan(ranges.near[k]);
  for (const Range& range : ranges.far) scan(range);
}

}  // namespace ebs::catalog
