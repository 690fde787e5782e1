#include "actors/sinks/webhook/community_payloads.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/time/time_scale.h"
#include "engine/util/fault.h"
#include "engine/util/percent_encoding.h"

namespace ebs::community {

namespace {

using nlohmann::json;

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string iso(double mjd_tai) { return std::isfinite(mjd_tai) ? time::mjd_tai_to_iso_utc(mjd_tai) : std::string(); }

std::string filled(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values)
    for (size_t at; (at = text.find(name)) != std::string::npos;) text.replace(at, name.size(), value);
  return text;
}

const char* event_type(SkyEvent::Kind kind) {
  switch (kind) {
    case SkyEvent::Kind::gravitational_wave: return "GW";
    case SkyEvent::Kind::neutrino: return "nu";
    case SkyEvent::Kind::gamma_ray_burst: return "GRB";
    case SkyEvent::Kind::x_ray: return "X";
    case SkyEvent::Kind::other: return "other";
  }
  return "other";
}

// The error circle of a localisation (deg), its kind and containment.
void put_error(json& out, const Localization& l) {
  switch (l.shape) {
    case Localization::Shape::point:
      out["err"] = 0.0;
      out["err_kind"] = "point";
      break;
    case Localization::Shape::circle:
      out["err"] = number(l.radius_deg);
      out["err_kind"] = "circle";
      break;
    case Localization::Shape::ellipse:
      out["err"] = number(l.semi_major_deg);  // the circle holding the ellipse
      out["err_kind"] = "ellipse";
      out["err_ellipse"] = {{"semi_major_deg", number(l.semi_major_deg)},
                            {"semi_minor_deg", number(l.semi_minor_deg)},
                            {"position_angle_deg", number(l.position_angle_deg)}};
      break;
    case Localization::Shape::skymap:
      out["err"] = nullptr;  // a sky map: see links
      out["err_kind"] = "skymap";
      break;
  }
  out["err_containment"] = number(l.containment_probability);
}

// The most recent classification annotation of an alert, if any: {name, value, by}.
json best_class(const Alert& alert) {
  const Annotation* found = nullptr;
  for (const Annotation* a : alert.annotations().list())
    if (a->kind == Annotation::Kind::classification) found = a;
  if (!found) return nullptr;
  return {{"name", found->name}, {"probability", number(found->value)}, {"by", found->provenance.actor}};
}

json links_for(const EventOptions& o, const std::string& object_id, const std::string& event_id, const std::string& alert_id,
               const std::string& skymap_url) {
  json links = json::array();
  const std::map<std::string, std::string> values{{"{object_id}", object_id}, {"{event_id}", event_id}, {"{alert_id}", alert_id}};
  if (!o.object_url.empty() && !object_id.empty()) links.push_back({{"rel", "object"}, {"href", filled(o.object_url, values)}});
  if (!o.event_url.empty() && !event_id.empty()) links.push_back({{"rel", "event"}, {"href", filled(o.event_url, values)}});
  if (!skymap_url.empty()) links.push_back({{"rel", "skymap"}, {"href", skymap_url}});
  return links;
}

std::string text_number(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// TNS dates: "YYYY-MM-DD HH:MM:SS.sss" (UTC).
std::string tns_date(double mjd_tai) {
  std::string t = time::mjd_tai_to_iso_utc(mjd_tai);
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  if (auto at = t.find('T'); at != std::string::npos) t[at] = ' ';
  return t;
}

}  // namespace

json community_event(const Record& record, const EventOptions& o) {
  json out;
  switch (record.type()) {
    case PortType::sky_event: {
      const auto& e = static_cast<const SkyEvent&>(record);
      out = {{"trigger_id", e.event_id}, {"type", event_type(e.kind)}, {"source_name", e.event_id},
             {"time", iso(e.mjd_tai)},   {"mjd_tai", number(e.mjd_tai)}, {"ra", number(e.localization.ra)},
             {"dec", number(e.localization.dec)}};
      put_error(out, e.localization);
      out["observatory"] = e.source;
      out["status"] = e.retracted ? "retracted" : "active";
      out["notice"] = {{"alert_type", e.alert_type}, {"sequence", e.sequence}, {"far_hz", number(e.far_hz)},
                       {"significance", number(e.significance)}, {"significant", e.significant}, {"test", e.test}};
      out["links"] = links_for(o, "", e.event_id, "", e.localization.skymap_url);
      break;
    }
    case PortType::coincidence: {
      const auto& c = static_cast<const Coincidence&>(record);
      const bool pair = !c.other_event_id.empty();
      out = {{"trigger_id", pair ? c.event_id + "+" + c.other_event_id : c.object_id + "@" + c.event_id},
             {"type", pair ? "coincidence" : "ot"},
             {"source_name", pair ? c.other_event_id : c.object_id},
             {"time", iso(c.alert_mjd_tai)},
             {"mjd_tai", number(c.alert_mjd_tai)},
             {"ra", number(c.alert_ra)},
             {"dec", number(c.alert_dec)},
             {"err", pair ? json(nullptr) : json(0.0)},
             {"err_kind", pair ? "event" : "point"},
             {"status", to_string(c.status)}};
      if (!pair) out["magnitude"] = {{"value", number(c.alert_mag)}, {"band", c.alert_band}};
      json terms = json::array();
      for (const SignificanceTerm& t : c.terms) terms.push_back({{"name", t.name}, {"value", number(t.value)}});
      out["coincidence"] = {{"event_id", c.event_id},
                            {"event_sequence", c.event_sequence},
                            {"alert_id", std::to_string(c.alert_id)},
                            {"time_difference_s", number(c.time_difference_s)},
                            {"searched_probability", number(c.searched_probability)},
                            {"false_alarm_rate", number(c.false_alarm_rate)},
                            {"terms", std::move(terms)}};
      out["links"] = links_for(o, c.object_id, c.event_id, std::to_string(c.alert_id), "");
      break;
    }
    case PortType::alert: {
      const auto& a = static_cast<const Alert&>(record);
      const AlertCore& c = a.core();
      out = {{"trigger_id", c.object_id.empty() ? std::to_string(c.alert_id) : c.object_id},
             {"type", "ot"},
             {"source_name", c.object_id},
             {"time", iso(c.mjd_tai)},
             {"mjd_tai", number(c.mjd_tai)},
             {"ra", number(c.ra)},
             {"dec", number(c.dec)},
             {"err", 0.0},
             {"err_kind", "point"},
             {"observatory", c.survey},
             {"status", "active"},
             {"magnitude", {{"value", number(c.mag)}, {"band", c.band}}},
             {"classification", best_class(a)}};
      out["links"] = links_for(o, c.object_id, "", std::to_string(c.alert_id), "");
      break;
    }
    default:
      fail("community-event", "sends SkyEvents, Coincidences and Alerts, not " + std::string(to_string(record.type())));
  }
  out["discoverer"] = o.discoverer;
  out["schema"] = "ebs-flow community event 1.0 (Astro-COLIBRI-like; docs/exchange.md)";
  return out;
}

TnsSettings ztf_tns_defaults() {
  TnsSettings s;
  s.instrument = "196";
  s.filters = {{"g", "110"}, {"r", "111"}, {"i", "112"}};
  return s;
}

json tns_at_report(const Alert& alert, const TnsSettings& s) {
  const AlertCore& c = alert.core();
  const std::string place = alert_place(c);
  struct Point {
    double mjd, mag, err;
    std::string band;
  };
  std::vector<Point> detections;
  double first = std::numeric_limits<double>::infinity();
  for (const Photometry& p : c.history)
    if (p.kind == Photometry::Kind::detection && p.is_diff_pos && std::isfinite(p.mag) && std::isfinite(p.mjd_tai)) {
      detections.push_back({p.mjd_tai, p.mag, p.mag_err, p.band});
      first = std::min(first, p.mjd_tai);
    }
  if (c.is_diff_pos && std::isfinite(c.mag) && std::isfinite(c.mjd_tai)) {
    bool same = false;  // the alert's own detection may be in its history already
    for (const Point& d : detections) same = same || (std::abs(d.mjd - c.mjd_tai) < 1e-6 && d.band == c.band);
    if (!same) detections.push_back({c.mjd_tai, c.mag, c.mag_err, c.band});
    first = std::min(first, c.mjd_tai);
  }
  if (detections.empty()) fail(place, "a TNS report needs a positive detection with a magnitude");
  std::sort(detections.begin(), detections.end(), [](const Point& a, const Point& b) { return a.mjd < b.mjd; });
  auto filter_of = [&](const std::string& band) {
    auto it = s.filters.find(band);
    if (it == s.filters.end()) fail(place, "band '" + band + "' has no TNS filter id (tns.filters)");
    return it->second;
  };
  json photometry = json::object();
  for (size_t i = 0; i < detections.size(); ++i) {
    const Point& d = detections[i];
    photometry[std::to_string(i)] = {{"obsdate", tns_date(d.mjd)},
                                     {"flux", text_number(d.mag, 3)},
                                     {"flux_error", std::isfinite(d.err) ? text_number(d.err, 3) : ""},
                                     {"limiting_flux", ""},
                                     {"flux_units", "1"},  // TNS: 1 = ABMag
                                     {"filter_value", filter_of(d.band)},
                                     {"instrument_value", s.instrument},
                                     {"exptime", ""},
                                     {"observer", s.observer},
                                     {"comments", ""}};
  }
  // The last upper limit before the first detection.
  const Photometry* limit = nullptr;
  for (const Photometry& p : c.history)
    if (p.kind == Photometry::Kind::upper_limit && std::isfinite(p.limit_mag) && p.mjd_tai < first &&
        (!limit || p.mjd_tai > limit->mjd_tai))
      limit = &p;
  json non_detection;
  if (limit)
    non_detection = {{"obsdate", tns_date(limit->mjd_tai)}, {"limiting_flux", text_number(limit->limit_mag, 3)},
                     {"flux_units", "1"}, {"filter_value", filter_of(limit->band)}, {"instrument_value", s.instrument},
                     {"exptime", ""}, {"observer", s.observer}, {"comments", ""}};
  else
    non_detection = {{"archiveid", "0"}, {"archival_remarks", "no upper limit before the first detection in the alert"}};
  json report = {{"ra", {{"value", text_number(c.ra, 7)}, {"error", ""}, {"units", "arcsec"}}},
                 {"dec", {{"value", text_number(c.dec, 7)}, {"error", ""}, {"units", "arcsec"}}},
                 {"reporting_group_id", s.reporting_group_id},
                 {"discovery_data_source_id", s.discovery_data_source_id},
                 {"reporter", s.reporter},
                 {"discovery_datetime", tns_date(detections.front().mjd)},
                 {"at_type", s.at_type},
                 {"host_name", ""},
                 {"host_redshift", ""},
                 {"transient_redshift", ""},
                 {"internal_name_format", {{"prefix", ""}, {"year_format", ""}, {"postfix", ""}}},
                 {"internal_name", c.object_id},
                 {"remarks", s.remarks},
                 {"non_detection", std::move(non_detection)},
                 {"photometry", {{"photometry_group", std::move(photometry)}}}};
  return {{"at_report", {{"0", std::move(report)}}}};
}

std::string tns_form_body(const json& report, const TnsSettings& s) {
  return "api_key=" + percent_encoded(s.api_key) + "&data=" + percent_encoded(report.dump());
}

std::string tns_user_agent(const TnsSettings& s) {
  return "tns_marker" + json{{"tns_id", s.bot_id}, {"type", "bot"}, {"name", s.bot_name}}.dump();
}

}  // namespace ebs::community
