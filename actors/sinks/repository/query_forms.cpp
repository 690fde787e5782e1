#include "actors/sinks/repository/query_forms.h"

#include <charconv>
#include <cmath>

#include "engine/util/fault.h"

namespace ebs::repository {

double parse_radius_arcsec(std::string_view text) {
  double radius = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), radius);
  if (status != std::errc() || end != text.data() + text.size() || !std::isfinite(radius))
    fail("RADIUS", "'" + std::string(text) + "' is not a number of arcseconds");
  if (!(radius > 0 && radius <= 3 * 3600.0))
    fail("RADIUS", "'" + std::string(text) + "' arcsec is outside (0, 10800] (at most 3 degrees)");
  return radius;
}

void write_cone(const Reader& reader, double ra, double dec, double radius_arcsec, int64_t limit, TableWriter& out) {
  write_json_rows(out, reader.cone(ra, dec, radius_arcsec, limit),
                  {"alert_id", "alert_key", "object_id", "survey", "ra", "dec", "sep_arcsec", "mjd_tai", "band", "mag",
                   "mag_err", "flux", "flux_err", "is_diff_pos", "real_bogus"});
}

bool write_object(const Reader& reader, const std::string& object_id, TableWriter& out) {
  nlohmann::json object = reader.lightcurve(object_id);
  if (object.is_null()) return false;
  nlohmann::json points = std::move(object["lightcurve"]);
  for (nlohmann::json& point : points) point["object_id"] = object_id;
  write_json_rows(out, points,
                  {"object_id", "mjd_tai", "band", "kind", "mag", "mag_err", "limit_mag", "flux", "flux_err",
                   "is_diff_pos", "alert_id"});
  return true;
}

bool write_event(const Reader& reader, const std::string& event_id, bool history, TableWriter& out) {
  nlohmann::json event = reader.event_coincidences(event_id, history);
  if (event.is_null()) return false;
  // The alert as found (stored with the coincidence) as ra, dec, mag, band, mjd_tai.
  write_json_rows(out, event["coincidences"],
                  {"event_id", "event_sequence", "status", "alert_id", "object_id", "ra", "dec", "mag", "band",
                   "mjd_tai", "time_difference_s", "searched_probability", "false_alarm_rate", "other_event_id",
                   "other_event_sequence"});
  return true;
}

}  // namespace ebs::repository
