#include "actors/followup/survey_coverage.h"

#include <healpix_cxx/healpix_base.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/followup/moc_fits.h"
#include "actors/followup/json_lines.h"
#include "engine/time/time_scale.h"
#include "engine/util/fault.h"

namespace ebs::followup {

namespace {

constexpr double degree = M_PI / 180.0;
constexpr double square_degrees_per_steradian = (180.0 / M_PI) * (180.0 / M_PI);

std::string place_of(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return source;
  return source + ":" + std::to_string(mark.line + 1);
}

double number(const YAML::Node& node, const std::string& key, const std::string& source) {
  const YAML::Node value = node[key];
  if (!value) fail(place_of(source, node), "missing '" + key + "'");
  try {
    const double v = value.as<double>();
    if (!std::isfinite(v)) fail(place_of(source, value), "'" + key + "' is not finite");
    return v;
  } catch (const YAML::Exception&) {
    fail(place_of(source, value), "'" + key + "' is not a number");
  }
}

// The footprint's outline on the sky around (ra, dec): gnomonic de-projection of its tangent-
// plane vertices (point = normalise(centre + ξ·east + η·north)).
std::vector<pointing> polygon_on_sky(const Footprint& footprint, double ra_deg, double dec_deg) {
  const double a = ra_deg * degree, d = dec_deg * degree;
  const vec3 centre(std::cos(d) * std::cos(a), std::cos(d) * std::sin(a), std::sin(d));
  const vec3 east(-std::sin(a), std::cos(a), 0);
  const vec3 north(-std::sin(d) * std::cos(a), -std::sin(d) * std::sin(a), std::cos(d));
  std::vector<pointing> vertices;
  for (const auto& [x, y] : footprint.polygon_deg) {
    vec3 v = centre + east * (x * degree) + north * (y * degree);
    v.Normalize();
    vertices.emplace_back(v);
  }
  return vertices;
}

void check_convex(const std::vector<std::pair<double, double>>& polygon, const std::string& place) {
  if (polygon.size() < 3) fail(place, "a polygon needs at least 3 vertices");
  int sign = 0;
  for (std::size_t i = 0; i < polygon.size(); ++i) {
    const auto& [x0, y0] = polygon[i];
    const auto& [x1, y1] = polygon[(i + 1) % polygon.size()];
    const auto& [x2, y2] = polygon[(i + 2) % polygon.size()];
    const double cross = (x1 - x0) * (y2 - y1) - (y1 - y0) * (x2 - x1);
    if (cross == 0) fail(place, "polygon vertices " + std::to_string(i + 1) + "-" + std::to_string(i + 3) + " are collinear");
    const int s = cross > 0 ? 1 : -1;
    if (sign != 0 && s != sign) fail(place, "the polygon is not convex (split it into convex footprints)");
    sign = s;
  }
  for (const auto& [x, y] : polygon)
    if (!std::isfinite(x) || !std::isfinite(y) || std::hypot(x, y) >= 60)
      fail(place, "polygon vertices must be finite offsets under 60 deg from the centre");
}

}  // namespace

SurveyPlan parse_survey_plan(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail(source + (e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : ""), "invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) fail(source, "a survey plan is a map with footprints and pointings");
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    if (key != "footprints" && key != "pointings" && key != "site_longitude_deg")
      fail(place_of(source, entry.first), "unknown key '" + key + "' (footprints, pointings, site_longitude_deg)");
  }
  SurveyPlan plan;
  if (root["site_longitude_deg"]) plan.site_longitude_deg = number(root, "site_longitude_deg", source);
  std::map<std::string, std::size_t> names;
  const YAML::Node footprints = root["footprints"];
  if (!footprints || !footprints.IsMap()) fail(source, "missing 'footprints' (a map of name -> {radius} or {polygon})");
  for (const auto& entry : footprints) {
    Footprint footprint;
    footprint.name = entry.first.as<std::string>();
    const std::string place = place_of(source, entry.second) + ":footprint " + footprint.name;
    const YAML::Node spec = entry.second;
    if (spec["radius"] && spec["polygon"]) fail(place, "a footprint is a radius or a polygon, not both");
    if (spec["radius"]) {
      footprint.radius_deg = number(spec, "radius", source);
      if (!(footprint.radius_deg > 0 && footprint.radius_deg < 90)) fail(place, "radius must be in (0, 90) deg");
    } else if (spec["polygon"] && spec["polygon"].IsSequence()) {
      for (const auto& vertex : spec["polygon"]) {
        if (!vertex.IsSequence() || vertex.size() != 2) fail(place_of(source, vertex), "a vertex is [east, north] in deg");
        try {
          footprint.polygon_deg.emplace_back(vertex[0].as<double>(), vertex[1].as<double>());
        } catch (const YAML::Exception&) {
          fail(place_of(source, vertex), "a vertex is [east, north] in deg");
        }
      }
      check_convex(footprint.polygon_deg, place);
    } else {
      fail(place, "a footprint needs 'radius' (deg) or 'polygon' ([[east, north], ...] deg)");
    }
    names[footprint.name] = plan.footprints.size();
    plan.footprints.push_back(std::move(footprint));
  }
  const YAML::Node pointings = root["pointings"];
  if (!pointings || !pointings.IsSequence()) fail(source, "missing 'pointings' (a list)");
  std::size_t index = 0;
  for (const auto& node : pointings) {
    Pointing pointing;
    pointing.place = place_of(source, node) + ":pointing " + std::to_string(++index);
    if (!node.IsMap()) fail(pointing.place, "a pointing is {ra, dec, time or mjd, footprint}");
    pointing.ra_deg = number(node, "ra", source);
    pointing.dec_deg = number(node, "dec", source);
    if (pointing.dec_deg < -90 || pointing.dec_deg > 90) fail(pointing.place, "dec is outside [-90, 90]");
    if (node["time"]) {
      const std::string text = node["time"].as<std::string>();
      pointing.mjd_utc = time::mjd_tai_to_utc(time::iso_utc_to_mjd_tai(text, pointing.place), pointing.place);
    } else if (node["mjd"]) {
      pointing.mjd_utc = number(node, "mjd", source);
    } else {
      fail(pointing.place, "a pointing needs 'time' (ISO 8601 UTC) or 'mjd' (UTC)");
    }
    if (!node["footprint"]) fail(pointing.place, "missing 'footprint'");
    const std::string name = node["footprint"].as<std::string>();
    auto it = names.find(name);
    if (it == names.end()) fail(pointing.place, "unknown footprint '" + name + "'");
    pointing.footprint = it->second;
    plan.pointings.push_back(std::move(pointing));
  }
  return plan;
}

SurveyPlan load_survey_plan(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open the survey plan");
  std::stringstream text;
  text << in.rdbuf();
  return parse_survey_plan(text.str(), path.string());
}

std::vector<AlertPosition> load_alert_positions(const std::filesystem::path& path) {
  std::vector<AlertPosition> alerts;
  for_each_json_line(path, "the alerts file", [&](const nlohmann::json& json, const std::string& place) {
    if (json.contains("type") && json["type"] != "Alert") return;
    auto field = [&](const char* key) {
      if (!json.contains(key) || !json[key].is_number()) fail(place, std::string("missing number '") + key + "'");
      return json[key].get<double>();
    };
    alerts.push_back({field("ra"), field("dec"), time::mjd_tai_to_utc(field("mjd_tai"), place)});
  });
  return alerts;
}

std::string night_of(double mjd_utc, double site_longitude_deg) {
  // Local solar time runs longitude/360 days ahead of UTC; a night starts at local noon.
  const double day = std::floor(mjd_utc + site_longitude_deg / 360.0 - 0.5);
  return time::mjd_tai_to_iso_utc(time::mjd_utc_to_tai(day + 0.5)).substr(0, 10);
}

std::vector<NightCoverage> survey_coverage(const skymap::Skymap& map, const SurveyPlan& plan,
                                           const std::vector<AlertPosition>& alerts, const CoverageOptions& options) {
  const int order = options.order >= 0 ? options.order : std::max(map.max_order(), 10);
  if (order > 20) fail(map.source(), "coverage order " + std::to_string(order) + " is above 20");
  const T_Healpix_Base<std::int64_t> grid(order, NEST);
  // The region at the evaluation order when that is coarser than the map (cells touching it).
  const Moc region = credible_region_moc(map, options.level, std::min(order, map.max_order()));
  const double pixel_sr = skymap::pixel_area(order);

  std::map<std::string, std::vector<const Pointing*>> nights;  // ISO dates sort in time order
  for (const Pointing& p : plan.pointings) nights[night_of(p.mjd_utc, plan.site_longitude_deg)].push_back(&p);
  std::map<std::string, std::pair<std::size_t, std::size_t>> alert_counts;
  for (const AlertPosition& a : alerts) {
    auto& [all, inside] = alert_counts[night_of(a.mjd_utc, plan.site_longitude_deg)];
    ++all;
    const std::int64_t pixel = grid.ang2pix(pointing(0.5 * M_PI - a.dec_deg * degree, a.ra_deg * degree));
    inside += region.contains(order, static_cast<std::uint64_t>(pixel));
  }
  for (const auto& [night, counts] : alert_counts) nights[night];  // nights with alerts only

  // Probability and region area of the pixels in `set` (pixel centres looked up in the map).
  auto measure = [&](const rangeset<std::int64_t>& set) {
    double probability = 0, region_sr = 0;
    for (std::size_t r = 0; r < set.nranges(); ++r)
      for (std::int64_t pixel = set.ivbegin(r); pixel < set.ivend(r); ++pixel) {
        const pointing centre = grid.pix2ang(pixel);
        probability += map.probdensity(centre.phi / degree, 90 - centre.theta / degree) * pixel_sr;
        if (region.contains(order, static_cast<std::uint64_t>(pixel))) region_sr += pixel_sr;
      }
    return std::pair{probability, region_sr * square_degrees_per_steradian};
  };

  std::vector<NightCoverage> out;
  rangeset<std::int64_t> cumulative;
  for (const auto& [night, pointings] : nights) {
    rangeset<std::int64_t> observed;
    for (const Pointing* p : pointings) {
      const Footprint& footprint = plan.footprints[p->footprint];
      rangeset<std::int64_t> field;
      if (footprint.radius_deg > 0)
        grid.query_disc(pointing(0.5 * M_PI - p->dec_deg * degree, p->ra_deg * degree), footprint.radius_deg * degree, field);
      else
        grid.query_polygon(polygon_on_sky(footprint, p->ra_deg, p->dec_deg), field);
      observed = observed.op_or(field);
    }
    cumulative = cumulative.op_or(observed);
    NightCoverage coverage;
    coverage.night = night;
    coverage.pointings = pointings.size();
    std::tie(coverage.probability, coverage.area_90_deg2) = measure(observed);
    std::tie(coverage.cumulative_probability, coverage.cumulative_area_90_deg2) = measure(cumulative);
    if (auto it = alert_counts.find(night); it != alert_counts.end())
      std::tie(coverage.alerts, coverage.alerts_in_90) = it->second;
    out.push_back(coverage);
  }
  return out;
}

}  // namespace ebs::followup
