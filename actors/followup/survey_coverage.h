// Survey coverage of a sky map: which part of the localisation a survey's pointings observed,
// night by night and cumulatively, and how many alerts fell in the 90 % region each night.
//
// Pointings come from YAML (docs/followup.md):
//   site_longitude_deg: -116.86        # optional: nights run from local noon to local noon
//   footprints:
//     ztf: {polygon: [[-3.5, -3.5], [3.5, -3.5], [3.5, 3.5], [-3.5, 3.5]]}  # tangent-plane deg
//     wide: {radius: 2.0}                                                   # a circle, deg
//   pointings:
//     - {ra: 98.3, dec: -27.4, time: "2022-07-23T03:10:00", footprint: ztf}
//     - {ra: 101.0, dec: -30.0, mjd: 59783.2, footprint: wide}               # MJD UTC
// A polygon's vertices are offsets (east, north) in the plane tangent at the field centre
// (gnomonic), in order around a convex outline. Coverage is evaluated on the HEALPix grid at
// `order` (pixel centres inside a footprint count as observed).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "actors/common/skymap/skymap.h"

namespace ebs::followup {

struct Footprint {
  std::string name;
  double radius_deg = 0;                              // a circle when > 0
  std::vector<std::pair<double, double>> polygon_deg;  // else: tangent-plane vertices
};

struct Pointing {
  double ra_deg = 0, dec_deg = 0;
  double mjd_utc = 0;
  std::size_t footprint = 0;  // index into SurveyPlan::footprints
  std::string place;          // where in the YAML, for faults
};

struct SurveyPlan {
  double site_longitude_deg = 0;
  std::vector<Footprint> footprints;
  std::vector<Pointing> pointings;
};

// Faults name the file, and the pointing or footprint, and what is wrong.
SurveyPlan load_survey_plan(const std::filesystem::path& path);
SurveyPlan parse_survey_plan(const std::string& yaml_text, const std::string& source);

struct AlertPosition {
  double ra_deg = 0, dec_deg = 0, mjd_utc = 0;
};
// Alerts as JSON lines (the `jsonl` sink's Alert records: ra, dec, mjd_tai); other record types
// are skipped; a malformed line is a fault naming file:line.
std::vector<AlertPosition> load_alert_positions(const std::filesystem::path& path);

struct NightCoverage {
  std::string night;                 // local date at the start of the night (YYYY-MM-DD)
  std::size_t pointings = 0;
  double probability = 0;            // of the map, observed this night
  double area_90_deg2 = 0;           // of the 90 % credible region, observed this night
  double cumulative_probability = 0; // nights up to this one, overlaps counted once
  double cumulative_area_90_deg2 = 0;
  std::size_t alerts = 0;            // alerts of this night
  std::size_t alerts_in_90 = 0;      // of them, inside the 90 % credible region
};

struct CoverageOptions {
  int order = -1;       // HEALPix order of the evaluation; < 0: max(map's maximum order, 10)
  double level = 0.9;   // the credible region whose area is reported
};

// The night (local date at its start) of a UTC MJD at a site's longitude.
std::string night_of(double mjd_utc, double site_longitude_deg);

std::vector<NightCoverage> survey_coverage(const skymap::Skymap& map, const SurveyPlan& plan,
                                           const std::vector<AlertPosition>& alerts = {},
                                           const CoverageOptions& options = {});

}  // namespace ebs::followup
