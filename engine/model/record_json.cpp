#include "engine/model/record_json.h"

#include <deque>
#include <map>

#include "engine/model/alert_identity.h"
#include "engine/util/fault.h"

namespace ebs {

using nlohmann::json;

// NaN is "unknown" throughout the model; JSON has no NaN, so it is written as null.
static json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

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
  // One shape for every kind, as the repository's annotations row: a Sherlock classification
  // names its catalogue, source, separation and object type like a crossmatch does.
  if (a.kind == Annotation::Kind::crossmatch || a.kind == Annotation::Kind::classification ||
      !a.catalogue.empty()) {
    out["catalogue"] = a.catalogue;
    out["source_id"] = a.source_id;
    out["separation_arcsec"] = number(a.separation_arcsec);
    out["object_type"] = a.object_type;
    out["redshift"] = number(a.redshift);
  }
  if (!a.name.empty()) out["name"] = a.name;
  if (std::isfinite(a.value)) out["value"] = a.value;
  if (!a.details.empty()) {
    // Details are JSON text an actor wrote; text that is not JSON (a damaged message from a peer)
    // stays text rather than becoming a value nothing can write.
    json details = json::parse(a.details, nullptr, false);
    out["details"] = details.is_discarded() ? json(a.details) : std::move(details);
  }
  return out;
}

static json alert_to_json(const Alert& alert, const JsonOptions& options) {
  const AlertCore& c = alert.core();
  // Ids are strings in JSON: 64-bit integers do not survive JavaScript's numbers (docs/formats.md).
  json out{{"type", "Alert"},
           {"alert_id", std::to_string(c.alert_id)},
           {"alert_key", c.alert_key.empty() ? std::to_string(c.alert_id) : c.alert_key},
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
           {"real_bogus", number(c.real_bogus)},
           {"limit_mag", number(c.limit_mag)}};
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
  if (c.cutouts_not_read)  // absent when all were read: the JSON of others is unchanged
    out["cutouts_not_read"] = {{"fields", c.cutouts_not_read->fields}, {"file", c.cutouts_not_read->file}};
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
  json out = {{"type", "Coincidence"},
              {"event_id", c.event_id},
              {"event_sequence", c.event_sequence},
              {"alert_id", std::to_string(c.alert_id)},
              {"object_id", c.object_id},
              {"status", to_string(c.status)},
              {"time_difference_s", number(c.time_difference_s)},
              {"searched_probability", number(c.searched_probability)},
              {"false_alarm_rate", number(c.false_alarm_rate)},
              {"terms", std::move(terms)}};
  if (c.alert_id != 0 || !c.object_id.empty()) {
    out["alert_ra"] = number(c.alert_ra);
    out["alert_dec"] = number(c.alert_dec);
    out["alert_mag"] = number(c.alert_mag);
    out["alert_band"] = c.alert_band;
    out["alert_mjd_tai"] = number(c.alert_mjd_tai);
  }
  if (!c.other_event_id.empty()) {
    out["other_event_id"] = c.other_event_id;
    out["other_event_sequence"] = c.other_event_sequence;
  }
  return out;
}

static json classification_to_json(const Classification& c) {
  json classes = json::array();
  for (const ClassProbability& p : c.classes)
    classes.push_back({{"classId", p.class_id}, {"probability", number(p.probability)}});
  // The ELAsTiCC field names, so that the JSON form reads like the Avro message; ids as decimal
  // text (64-bit ids do not fit JavaScript's numbers), as for alerts.
  return {{"type", "Classification"},
          {"alertId", std::to_string(c.alert_id)},
          {"diaSourceId", std::to_string(c.dia_source_id)},
          {"object_id", c.object_id},
          {"survey", c.survey},
          {"elasticcPublishTimestamp", c.alert_timestamp_ms},
          {"brokerIngestTimestamp", c.ingest_timestamp_ms ? json(*c.ingest_timestamp_ms) : json(nullptr)},
          {"brokerName", c.broker_name},
          {"brokerVersion", c.broker_version},
          {"classifierName", c.classifier_name},
          {"classifierParams", c.classifier_params},
          {"classifications", std::move(classes)}};
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
    case PortType::classification: return classification_to_json(static_cast<const Classification&>(record));
    case PortType::any: break;
  }
  return nullptr;
}

namespace {

// Builds a RawRecord from JSON; identical objects share one RecordShape.
struct JsonToRaw {
  RawRecordBuilder builder;
  std::shared_ptr<std::deque<RecordShape>> shapes = std::make_shared<std::deque<RecordShape>>();
  std::map<std::vector<std::string>, const RecordShape*> by_fields;
  // A deque never moves its elements, so views into them stay valid while it grows.
  std::shared_ptr<std::deque<std::string>> strings = std::make_shared<std::deque<std::string>>();

  const RecordShape* shape_for(const json& object) {
    std::vector<std::string> fields;
    for (const auto& [key, value] : object.items()) fields.push_back(key);
    auto it = by_fields.find(fields);
    if (it != by_fields.end()) return it->second;
    shapes->emplace_back("json", fields);
    by_fields.emplace(std::move(fields), &shapes->back());
    return &shapes->back();
  }

  void read(const json& v, uint32_t node) {
    switch (v.type()) {
      case json::value_t::null: builder.set_null(node); break;
      case json::value_t::boolean: builder.set_bool(node, v.get<bool>()); break;
      case json::value_t::number_integer: builder.set_int(node, v.get<int64_t>()); break;
      case json::value_t::number_unsigned: builder.set_int(node, static_cast<int64_t>(v.get<uint64_t>())); break;
      case json::value_t::number_float: builder.set_double(node, v.get<double>()); break;
      case json::value_t::string: builder.set_string(node, strings->emplace_back(v.get<std::string>())); break;
      case json::value_t::array: {
        uint32_t first = builder.begin_list(node, static_cast<uint32_t>(v.size()));
        for (size_t i = 0; i < v.size(); ++i) read(v[i], first + static_cast<uint32_t>(i));
        break;
      }
      case json::value_t::object: {
        uint32_t first = builder.begin_record(node, shape_for(v));
        uint32_t i = 0;
        for (const auto& [key, value] : v.items()) read(value, first + i++);
        break;
      }
      default: builder.set_null(node); break;
    }
  }
};

double number_or_nan(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}
std::string text_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Photometry::Kind photometry_kind(const std::string& s) {
  if (s == "upper_limit") return Photometry::Kind::upper_limit;
  if (s == "forced") return Photometry::Kind::forced;
  return Photometry::Kind::detection;
}

Cutout::Kind cutout_kind(const std::string& s) {
  if (s == "template") return Cutout::Kind::template_;
  if (s == "difference") return Cutout::Kind::difference;
  return Cutout::Kind::science;
}

Annotation::Kind annotation_kind(const std::string& s) {
  if (s == "crossmatch") return Annotation::Kind::crossmatch;
  if (s == "classification") return Annotation::Kind::classification;
  if (s == "score") return Annotation::Kind::score;
  return Annotation::Kind::tag;
}

}  // namespace

int64_t alert_id_from_json(const json& value, const std::string& place) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_string()) {
    if (auto id = parse_alert_id(value.get_ref<const std::string&>())) return *id;
    fail(place, "alert_id '" + value.get<std::string>() + "' is not a signed 64-bit integer");
  }
  fail(place, "alert_id must be a string of digits (or an integer), not " + value.dump());
}

RawRecord raw_from_json(const json& value) {
  JsonToRaw reader;
  reader.read(value, reader.builder.add_root());
  return reader.builder.finish(reader.strings, reader.shapes);
}

std::shared_ptr<const Alert> alert_from_json(const json& j, const std::string& place) {
  if (!j.is_object() || text_or_empty(j, "type") != "Alert") fail(place, "not an Alert record");
  auto core = std::make_shared<AlertCore>();
  try {
    core->alert_id = alert_id_from_json(j.at("alert_id"), place);
    core->object_id = j.at("object_id").get<std::string>();
  } catch (const json::exception& e) {
    fail(place, std::string("alert without a valid alert_id and object_id: ") + e.what());
  }
  core->alert_key = text_or_empty(j, "alert_key");
  if (core->alert_key.empty()) core->alert_key = std::to_string(core->alert_id);
  core->survey = text_or_empty(j, "survey");
  core->schema_version = text_or_empty(j, "schema_version");
  core->ra = number_or_nan(j, "ra");
  core->dec = number_or_nan(j, "dec");
  core->mjd_tai = number_or_nan(j, "mjd_tai");
  core->band = text_or_empty(j, "band");
  core->mag = number_or_nan(j, "mag");
  core->mag_err = number_or_nan(j, "mag_err");
  core->flux = number_or_nan(j, "flux");
  core->flux_err = number_or_nan(j, "flux_err");
  core->is_diff_pos = j.value("is_diff_pos", true);
  core->real_bogus = number_or_nan(j, "real_bogus");
  core->limit_mag = number_or_nan(j, "limit_mag");
  for (const json& p : j.value("history", json::array())) {
    Photometry point;
    point.mjd_tai = number_or_nan(p, "mjd_tai");
    point.band = text_or_empty(p, "band");
    point.kind = photometry_kind(text_or_empty(p, "kind"));
    point.mag = number_or_nan(p, "mag");
    point.mag_err = number_or_nan(p, "mag_err");
    point.flux = number_or_nan(p, "flux");
    point.flux_err = number_or_nan(p, "flux_err");
    point.limit_mag = number_or_nan(p, "limit_mag");
    point.is_diff_pos = p.value("is_diff_pos", true);
    core->history.push_back(std::move(point));
  }
  count_history_detections(*core);
  auto bytes = std::make_shared<std::deque<std::string>>();
  for (const json& c : j.value("cutouts", json::array())) {
    const json& b = c.contains("bytes") ? c["bytes"] : json();
    if (!b.is_string()) continue;  // written without bytes (only their length): nothing to restore
    bytes->push_back(base64_decode(b.get<std::string>(), place + " cutout"));
    core->cutouts.push_back({cutout_kind(text_or_empty(c, "kind")), text_or_empty(c, "format"), bytes->back()});
  }
  core->buffers = bytes;
  if (j.contains("cutouts_not_read") && j["cutouts_not_read"].is_object()) {
    const json& unread = j["cutouts_not_read"];
    auto fields = unread.value("fields", json::array());
    core->cutouts_not_read = std::make_shared<const UnreadCutouts>(UnreadCutouts{
        fields.is_array() ? fields.get<std::vector<std::string>>() : std::vector<std::string>{},
        text_or_empty(unread, "file")});
  }
  if (j.contains("raw") && !j["raw"].is_null()) core->raw = raw_from_json(j["raw"]);
  AnnotationChain chain;
  for (const json& a : j.value("annotations", json::array())) {
    Annotation annotation;
    annotation.kind = annotation_kind(text_or_empty(a, "kind"));
    annotation.provenance = {text_or_empty(a, "actor"), text_or_empty(a, "actor_type"), text_or_empty(a, "version"),
                             text_or_empty(a, "config_hash")};
    annotation.catalogue = text_or_empty(a, "catalogue");
    annotation.source_id = text_or_empty(a, "source_id");
    annotation.separation_arcsec =
        number_or_nan(a, a.contains("separation_arcsec") ? "separation_arcsec" : "sep_arcsec");  // older files
    annotation.object_type = text_or_empty(a, "object_type");
    annotation.redshift = number_or_nan(a, "redshift");
    annotation.name = text_or_empty(a, "name");
    annotation.value = number_or_nan(a, "value");
    if (a.contains("details")) annotation.details = a["details"].dump();
    chain = chain.append(std::move(annotation));
  }
  return std::make_shared<const Alert>(std::move(core), std::move(chain));
}

}  // namespace ebs
