#include "engine/model/record_json.h"

namespace ebs {

using nlohmann::json;

// NaN is "unknown" throughout the model; JSON has no NaN, so it is written as null.
static json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

static json bytes_to_json(std::string_view bytes, const JsonOptions& options) {
  return options.with_bytes ? json(base64_encode(bytes)) : json(bytes.size());
}

json raw_to_json(const RawView& value, const JsonOptions& options) {
  if (!value.valid()) return nullptr;
  const RawNode& node = value.node();
  switch (node.kind) {
    case RawNode::Kind::Null: return nullptr;
    case RawNode::Kind::Bool: return node.boolean;
    case RawNode::Kind::Int: return node.integer;
    case RawNode::Kind::Double: return number(node.number);
    case RawNode::Kind::String: return std::string(node.text);
    case RawNode::Kind::Bytes: return bytes_to_json(node.text, options);
    case RawNode::Kind::List: {
      json out = json::array();
      for (size_t i = 0; i < value.size(); ++i) out.push_back(raw_to_json(value.child(i), options));
      return out;
    }
    case RawNode::Kind::Record: {
      json out = json::object();
      for (size_t i = 0; i < value.size(); ++i)
        out[std::string(value.field_name(i))] = raw_to_json(value.child(i), options);
      return out;
    }
  }
  return nullptr;
}

json to_json(const Annotation& a) {
  json out{{"kind", to_string(a.kind)},
           {"actor", a.provenance.actor},
           {"actor_type", a.provenance.actor_type},
           {"version", a.provenance.version},
           {"config_hash", a.provenance.config_hash}};
  if (a.kind == Annotation::Kind::crossmatch) {
    out["catalogue"] = a.catalogue;
    out["source_id"] = a.source_id;
    out["sep_arcsec"] = number(a.separation_arcsec);
    out["object_type"] = a.object_type;
    out["redshift"] = number(a.redshift);
  }
  if (!a.name.empty()) out["name"] = a.name;
  if (std::isfinite(a.value)) out["value"] = a.value;
  if (!a.details.empty()) out["details"] = json::parse(a.details, nullptr, false);
  return out;
}

static json alert_to_json(const Alert& alert, const JsonOptions& options) {
  const AlertCore& c = alert.core();
  json out{{"type", "Alert"},
           {"alert_id", c.alert_id},
           {"object_id", c.object_id},
           {"survey", c.survey},
           {"schema_version", c.schema_version},
           {"ra", number(c.ra)},
           {"dec", number(c.dec)},
           {"mjd_tai", number(c.mjd_tai)},
           {"band", c.band},
           {"mag", number(c.mag)},
           {"mag_err", number(c.mag_err)},
           {"flux", number(c.flux)},
           {"flux_err", number(c.flux_err)},
           {"is_diff_pos", c.is_diff_pos},
           {"real_bogus", number(c.real_bogus)}};
  json history = json::array();
  for (const Photometry& p : c.history) {
    history.push_back({{"mjd_tai", number(p.mjd_tai)},
                       {"band", p.band},
                       {"kind", to_string(p.kind)},
                       {"mag", number(p.mag)},
                       {"mag_err", number(p.mag_err)},
                       {"flux", number(p.flux)},
                       {"flux_err", number(p.flux_err)},
                       {"limit_mag", number(p.limit_mag)},
                       {"is_diff_pos", p.is_diff_pos}});
  }
  out["history"] = std::move(history);
  json cutouts = json::array();
  for (const Cutout& cut : c.cutouts)
    cutouts.push_back({{"kind", to_string(cut.kind)},
                       {"format", cut.format},
                       {"bytes", bytes_to_json(cut.bytes, options)}});
  out["cutouts"] = std::move(cutouts);
  json annotations = json::array();
  for (const Annotation* a : alert.annotations().list()) annotations.push_back(to_json(*a));
  out["annotations"] = std::move(annotations);
  if (options.with_raw && !c.raw.empty()) out["raw"] = raw_to_json(c.raw.root(), options);
  return out;
}

static json event_to_json(const SkyEvent& e, const JsonOptions& options) {
  const Localization& l = e.localization;
  json loc{{"ra", number(l.ra)},
           {"dec", number(l.dec)},
           {"containment_probability", number(l.containment_probability)}};
  switch (l.shape) {
    case Localization::Shape::point: loc["shape"] = "point"; break;
    case Localization::Shape::circle:
      loc["shape"] = "circle";
      loc["radius_deg"] = number(l.radius_deg);
      break;
    case Localization::Shape::ellipse:
      loc["shape"] = "ellipse";
      loc["semi_major_deg"] = number(l.semi_major_deg);
      loc["semi_minor_deg"] = number(l.semi_minor_deg);
      loc["position_angle_deg"] = number(l.position_angle_deg);
      break;
    case Localization::Shape::skymap:
      loc["shape"] = "skymap";
      loc["skymap_bytes"] = bytes_to_json(l.skymap_fits, options);
      loc["skymap_url"] = l.skymap_url;
      loc["skymap_version"] = l.skymap_version;
      break;
  }
  return {{"type", "SkyEvent"},        {"event_id", e.event_id},
          {"source", e.source},        {"kind", to_string(e.kind)},
          {"alert_type", e.alert_type}, {"sequence", e.sequence},
          {"mjd_tai", number(e.mjd_tai)}, {"localization", std::move(loc)},
          {"far_hz", number(e.far_hz)}, {"significance", number(e.significance)},
          {"significant", e.significant}, {"test", e.test},
          {"retracted", e.retracted}};
}

static json coincidence_to_json(const Coincidence& c) {
  json terms = json::array();
  for (const SignificanceTerm& t : c.terms)
    terms.push_back({{"name", t.name}, {"value", number(t.value)}, {"source", t.source}});
  return {{"type", "Coincidence"},
          {"event_id", c.event_id},
          {"event_sequence", c.event_sequence},
          {"alert_id", c.alert_id},
          {"object_id", c.object_id},
          {"status", to_string(c.status)},
          {"time_difference_s", number(c.time_difference_s)},
          {"searched_probability", number(c.searched_probability)},
          {"false_alarm_rate", number(c.false_alarm_rate)},
          {"terms", std::move(terms)}};
}

static json dead_letter_to_json(const DeadLetter& d) {
  json original;
  if (d.original_format == "json")
    original = json::parse(d.original, nullptr, false);
  else
    original = base64_encode(d.original);
  return {{"type", "DeadLetter"},       {"actor", d.actor},   {"kind", d.kind},
          {"reason", d.reason},         {"place", d.place},   {"original_format", d.original_format},
          {"original", std::move(original)}, {"mjd_tai", number(d.mjd_tai)}};
}

json to_json(const Record& record, const JsonOptions& options) {
  switch (record.type()) {
    case PortType::alert: return alert_to_json(static_cast<const Alert&>(record), options);
    case PortType::sky_event: return event_to_json(static_cast<const SkyEvent&>(record), options);
    case PortType::coincidence: return coincidence_to_json(static_cast<const Coincidence&>(record));
    case PortType::dead_letter: return dead_letter_to_json(static_cast<const DeadLetter&>(record));
    case PortType::any: break;
  }
  return nullptr;
}

}  // namespace ebs
