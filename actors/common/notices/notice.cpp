#include "actors/common/notices/notice.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "actors/common/notices/notice_text.h"
#include "actors/common/skymap/error_region.h"
#include "actors/common/skymap/skymap.h"
#include "actors/common/skymap/skymap_notice.h"
#include "engine/time/time_scale.h"
#include "engine/util/base64.h"
#include "engine/util/fault.h"

namespace ebs::notices {

using namespace ebs::skymap;  // sky maps and error regions (actors/common/skymap)

namespace {

using nlohmann::json;

constexpr double kSecondsPerJulianYear = 365.25 * 86400.0;
// LVK notices carry no counter: their sequence is time_created in seconds since this UTC date,
// which orders an event's notices (EARLYWARNING ... UPDATE, RETRACTION) as they were sent.
constexpr const char* kLvkSequenceEpoch = "2015-01-01T00:00:00Z";

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}
std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array() && !it->empty() && (*it)[0].is_string()) return (*it)[0].get<std::string>();
  return {};
}

double number_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return std::nan("");
  return it->get<double>();
}

uint32_t seconds_since_epoch(double mjd_tai) {
  static const double epoch = time::iso_utc_to_mjd_tai(kLvkSequenceEpoch);
  double seconds = std::round((mjd_tai - epoch) * time::kSecondsPerDay);
  return seconds > 0 ? static_cast<uint32_t>(std::min(seconds, 4294967295.0)) : 0;
}

// A string field as string_field reads it (a string, or an array's first string), through the
// cut maps: "" when there is none.
std::string_view map_field(const json& object, const char* key, const NoticeText& text) {
  auto it = object.find(key);
  if (it == object.end()) return {};
  if (it->is_string()) return text.text_of(it->get_ref<const std::string&>());
  if (it->is_array() && !it->empty() && (*it)[0].is_string()) return text.text_of((*it)[0].get_ref<const std::string&>());
  return {};
}

// The notice without its (large) embedded map, for `notice_json`.
std::string compact_notice(json notice, const NoticeText& text) {
  auto placeholder = [&](json& map) {
    map = "<" + std::to_string(text.text_of(map.get_ref<const std::string&>()).size()) + " base64 characters>";
  };
  if (auto event = notice.find("event"); event != notice.end() && event->is_object())
    if (auto map = event->find("skymap"); map != event->end() && map->is_string()) placeholder(*map);
  if (auto map = notice.find("healpix_file"); map != notice.end() && map->is_string()) placeholder(*map);
  text.restore(notice);
  return notice.dump();
}

// Decodes and validates an embedded FITS map; the event keeps the bytes, the actor re-reads them.
void attach_skymap(SkyEvent& event, std::string_view base64, const std::string& place) {
  std::string bytes = base64_decode(base64, place);
  Skymap map = Skymap::from_bytes(std::string_view(bytes), place);  // throws on non-FITS, NaN densities, ...
  event.localization.shape = Localization::Shape::skymap;
  event.localization.skymap_fits = std::move(bytes);
  event.localization.containment_probability = 0.9;
  if (map.header().map_version) event.localization.skymap_version = std::to_string(*map.header().map_version);
}

void set_region(Localization& localization, const ErrorRegion& region) {
  localization.ra = region.ra;
  localization.dec = region.dec;
  localization.containment_probability = region.containment;
  if (region.is_circle()) {
    localization.shape = Localization::Shape::circle;
    localization.radius_deg = region.semi_major;
  } else {
    localization.shape = Localization::Shape::ellipse;
    localization.semi_major_deg = region.semi_major;
    localization.semi_minor_deg = region.semi_minor;
    localization.position_angle_deg = region.position_angle;
  }
}

// ---- LVK igwn.gwalert -------------------------------------------------------------------------

std::shared_ptr<SkyEvent> parse_lvk(const json& notice, const NoticeText& text, const std::string& place) {
  auto event = std::make_shared<SkyEvent>();
  event->event_id = string_field(notice, "superevent_id");
  event->source = "lvk";
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->alert_type = upper(string_field(notice, "alert_type"));
  static const std::vector<std::string> known{"EARLYWARNING", "PRELIMINARY", "INITIAL", "UPDATE", "RETRACTION"};
  if (std::find(known.begin(), known.end(), event->alert_type) == known.end())
    fail(place, "unknown LVK alert_type '" + event->alert_type + "'");
  std::string created = string_field(notice, "time_created");
  if (created.empty()) fail(place, "no time_created");
  double created_mjd = time::iso_utc_to_mjd_tai(created, place + ":time_created");
  event->sequence = seconds_since_epoch(created_mjd);
  event->localization.skymap_version = created;
  event->test = is_mock_superevent_id(event->event_id);
  if (event->alert_type == "RETRACTION") {
    event->retracted = true;
    event->notice_json = compact_notice(notice, text);
    return event;
  }
  auto body = notice.find("event");
  if (body == notice.end() || !body->is_object()) fail(place, "no event object in a " + event->alert_type + " notice");
  std::string time_text = string_field(*body, "time");
  if (time_text.empty()) fail(place, "no event.time");
  event->mjd_tai = time::iso_utc_to_mjd_tai(time_text, place + ":event.time");
  event->far_hz = number_field(*body, "far");
  if (auto it = body->find("significant"); it != body->end() && it->is_boolean()) event->significant = it->get<bool>();
  if (lower(string_field(*body, "search")) == "mdc") event->test = true;
  std::string_view map = map_field(*body, "skymap", text);
  if (map.empty()) fail(place, "no event.skymap");
  std::string version = event->localization.skymap_version;
  attach_skymap(*event, map, place + ":event.skymap");
  if (event->localization.skymap_version.empty()) event->localization.skymap_version = version;
  if (auto cls = body->find("classification"); cls != body->end() && cls->is_object()) {
    double terrestrial = number_field(*cls, "Terrestrial");
    if (std::isfinite(terrestrial)) event->significance = 1 - terrestrial;  // p_astro
  }
  event->notice_json = compact_notice(notice, text);
  return event;
}

// ---- GraceDB superevent record ----------------------------------------------------------------

std::shared_ptr<SkyEvent> parse_gracedb(const json& record, const NoticeText& text, const std::string& place) {
  auto event = std::make_shared<SkyEvent>();
  event->event_id = string_field(record, "superevent_id");
  event->source = "gracedb";
  event->kind = SkyEvent::Kind::gravitational_wave;
  event->alert_type = "SUPEREVENT";
  double t0 = number_field(record, "t_0");
  if (!std::isfinite(t0)) fail(place, "no t_0 (GPS seconds)");
  event->mjd_tai = time::gps_seconds_to_mjd_tai(t0);
  event->far_hz = number_field(record, "far");
  std::string category = string_field(record, "category");
  event->test = is_mock_superevent_id(event->event_id) || (!category.empty() && category != "Production");
  // A superevent record names its maps only by file name: the localization stays a point-less
  // sky map the coincidence actor cannot use until a notice brings the map.
  event->localization.shape = Localization::Shape::skymap;
  if (auto links = record.find("links"); links != record.end() && links->is_object())
    event->localization.skymap_url = string_field(*links, "files");
  if (text.cut_any()) {
    json whole = record;
    text.restore(whole);
    event->notice_json = whole.dump();
  } else {
    event->notice_json = record.dump();
  }
  return event;
}

// ---- GCN Kafka JSON (core/Localization) -------------------------------------------------------

struct Mission {
  std::string source;
  SkyEvent::Kind kind;
};

Mission mission_of(const json& notice) {
  std::string mission = lower(string_field(notice, "mission"));
  std::string instrument = lower(string_field(notice, "instrument"));
  std::string schema = lower(string_field(notice, "$schema"));
  std::string messenger = lower(string_field(notice, "messenger"));
  auto in_schema = [&](const char* key) { return schema.find(key) != std::string::npos; };
  if (mission == "icecube" || in_schema("/icecube/")) return {"icecube", SkyEvent::Kind::neutrino};
  if (mission == "km3net" || in_schema("/km3net/")) return {"km3net", SkyEvent::Kind::neutrino};
  if (mission == "super-kamiokande" || in_schema("/superk/")) return {"superk", SkyEvent::Kind::neutrino};
  if (mission == "swift" || in_schema("/swift/")) return {"swift", SkyEvent::Kind::gamma_ray_burst};
  if (mission == "fermi" || in_schema("/fermi/"))
    return {instrument == "lat" ? "fermi-lat" : "fermi-gbm", SkyEvent::Kind::gamma_ray_burst};
  if (mission == "svom" || in_schema("/svom/") || instrument == "eclairs" || instrument == "grm")
    return {"svom", SkyEvent::Kind::gamma_ray_burst};
  if (in_schema("/einstein_probe/") || instrument == "wxt") return {"einstein-probe", SkyEvent::Kind::x_ray};
  if (in_schema("/chime/")) return {"chime", SkyEvent::Kind::other};
  if (messenger == "neutrino") return {mission.empty() ? "gcn" : mission, SkyEvent::Kind::neutrino};
  return {mission.empty() ? "gcn" : mission, SkyEvent::Kind::other};
}

// A GCN Localization, also written by gwcelery's test notices as `ra_uncertainty: [r]`.
bool read_region(const json& object, const std::string& place, ErrorRegion& region) {
  bool has_position = object.contains("ra") && object.contains("dec");
  if (!has_position) return false;
  if (object.contains("ra_dec_error")) {
    json copy = object;
    // CHIME writes [a, b, PA] with a < b: the larger axis is the semi-major one.
    if (auto& error = copy["ra_dec_error"]; error.is_array() && error.size() >= 2 && error[0].is_number() &&
                                            error[1].is_number() && error[0].get<double>() < error[1].get<double>()) {
      double a = error[0], b = error[1];
      double pa = error.size() > 2 && error[2].is_number() ? error[2].get<double>() : 0.0;
      error = json::array({b, a, std::fmod(pa + 90.0, 180.0)});
    }
    region = ErrorRegion::from_localization(copy, place);
    return true;
  }
  if (auto it = object.find("ra_uncertainty"); it != object.end()) {
    double radius = it->is_number() ? it->get<double>()
                    : (it->is_array() && !it->empty() && (*it)[0].is_number()) ? (*it)[0].get<double>()
                                                                                : std::nan("");
    if (!std::isfinite(radius)) fail(place, "ra_uncertainty is not a number or [radius]");
    json copy = object;
    copy["ra_dec_error"] = radius;
    region = ErrorRegion::from_localization(copy, place);
    return true;
  }
  return false;
}

void fill_gcn_common(SkyEvent& event, const json& notice, const NoticeText& text) {
  std::string type = string_field(notice, "alert_type");
  event.alert_type = upper(type.empty() ? "initial" : type);
  event.retracted = event.alert_type == "RETRACTION";
  if (auto it = notice.find("record_number"); it != notice.end() && it->is_number_integer())
    event.sequence = static_cast<uint32_t>(std::max<int64_t>(0, it->get<int64_t>()));
  std::string tense = lower(string_field(notice, "alert_tense"));
  event.test = tense == "test";
  event.far_hz = number_field(notice, "far");
  event.significance = number_field(notice, "p_astro");
  event.notice_json = compact_notice(notice, text);
}

std::vector<std::shared_ptr<SkyEvent>> parse_nu_track_search(const json& notice, const NoticeText& text,
                                                            const std::string& place) {
  std::vector<std::shared_ptr<SkyEvent>> events;
  std::string gw = string_field(notice, "ref_ID");
  std::string trigger = string_field(notice, "trigger_time");
  if (trigger.empty()) fail(place, "no trigger_time");
  double trigger_mjd = time::iso_utc_to_mjd_tai(trigger, place + ":trigger_time");
  auto list = notice.find("coincident_events");
  if (list == notice.end() || !list->is_array() || list->empty())
    fail(place, "not a localization notice: the neutrino track search for " + gw + " found no coincident neutrino");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& nu = (*list)[i];
    std::string nu_place = place + ":coincident_events[" + std::to_string(i) + "]";
    auto event = std::make_shared<SkyEvent>();
    event->source = "icecube-lvk-nu-track-search";
    event->kind = SkyEvent::Kind::neutrino;
    std::string id = string_field(nu, "id");
    event->event_id = id.empty() ? gw + "-nu" + std::to_string(i) : id;
    double dt = number_field(nu, "event_dt");
    if (!std::isfinite(dt)) fail(nu_place, "no event_dt");
    event->mjd_tai = trigger_mjd + dt / time::kSecondsPerDay;
    auto loc = nu.find("localization");
    ErrorRegion region;
    if (loc == nu.end() || !read_region(*loc, nu_place + ".localization", region))
      fail(nu_place, "no localization");
    set_region(event->localization, region);
    fill_gcn_common(*event, notice, text);
    event->alert_type = "INITIAL";
    event->significance = number_field(nu, "event_pval_bayesian");  // LLAMA p-value when given
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<std::shared_ptr<SkyEvent>> parse_gcn(const json& notice, const NoticeText& text, const std::string& place) {
  if (notice.contains("coincident_events") || string_field(notice, "$schema").find("lvk_nu_track_search") != std::string::npos)
    return parse_nu_track_search(notice, text, place);
  Mission mission = mission_of(notice);
  auto event = std::make_shared<SkyEvent>();
  event->source = mission.source;
  event->kind = mission.kind;
  event->event_id = notice_id(notice);
  if (event->event_id == "?") event->event_id = string_field(notice, "event_name");
  if (event->event_id.empty()) fail(place, "no id");
  fill_gcn_common(*event, notice, text);
  std::string trigger = string_field(notice, "trigger_time");
  if (!trigger.empty()) event->mjd_tai = time::iso_utc_to_mjd_tai(trigger, place + ":trigger_time");
  if (event->retracted) return {event};
  if (trigger.empty()) fail(place, "not a localization notice: no trigger_time");
  ErrorRegion region;
  bool has_region = read_region(notice, place, region);
  if (has_region) set_region(event->localization, region);
  std::string_view file = map_field(notice, "healpix_file", text);
  if (!file.empty()) {
    attach_skymap(*event, file, place + ":healpix_file");
  } else if (!has_region) {
    fail(place, "not a localization notice: no ra/dec/ra_dec_error and no healpix_file (alert_type " +
                    event->alert_type + ")");
  }
  event->localization.skymap_url = string_field(notice, "healpix_url");
  if (mission.kind == SkyEvent::Kind::neutrino && !std::isfinite(event->significance))
    event->significance = number_field(notice, "p_astro");
  return {event};
}

// ---- VOEvent XML ------------------------------------------------------------------------------

struct XmlDoc {
  xmlDocPtr doc = nullptr;
  ~XmlDoc() { if (doc) xmlFreeDoc(doc); }
};

bool named(xmlNodePtr node, const char* name) {
  return node->type == XML_ELEMENT_NODE && xmlStrcmp(node->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

std::string attribute(xmlNodePtr node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  if (!value) return {};
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out;
}

std::string text_of(xmlNodePtr node) {
  xmlChar* value = xmlNodeGetContent(node);
  if (!value) return {};
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  auto first = out.find_first_not_of(" \t\r\n");
  auto last = out.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
}

xmlNodePtr find_descendant(xmlNodePtr node, const char* name) {
  for (xmlNodePtr child = node ? node->children : nullptr; child; child = child->next) {
    if (named(child, name)) return child;
    if (xmlNodePtr found = find_descendant(child, name)) return found;
  }
  return nullptr;
}

void collect_params(xmlNodePtr node, std::map<std::string, std::string>& params) {
  for (xmlNodePtr child = node ? node->children : nullptr; child; child = child->next) {
    if (named(child, "Param")) params.emplace(attribute(child, "name"), attribute(child, "value"));
    collect_params(child, params);
  }
}

double to_number(const std::string& text, const std::string& place, const std::string& what) {
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    fail(place, what + " is not a number: '" + text + "'");
  }
}

std::shared_ptr<SkyEvent> parse_voevent(std::string_view text, const std::string& source) {
  XmlDoc xml;
  xml.doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), source.c_str(), nullptr,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!xml.doc) {
    const xmlError* error = xmlGetLastError();
    std::string why = error && error->message ? error->message : "malformed XML";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    fail(source + (error ? ":" + std::to_string(error->line) : ""), "not a VOEvent: " + why);
  }
  xmlNodePtr root = xmlDocGetRootElement(xml.doc);
  if (!root || !named(root, "VOEvent")) fail(source, "not a VOEvent: the root element is not <VOEvent>");
  std::string ivorn = attribute(root, "ivorn");
  std::string place = source + " (notice " + (ivorn.empty() ? "?" : ivorn) + ")";
  std::map<std::string, std::string> params;
  collect_params(find_descendant(root, "What"), params);
  auto param = [&](const char* name) -> std::string {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  };
  auto event = std::make_shared<SkyEvent>();
  std::string packet = param("Packet_Type");
  std::string upper_ivorn = upper(ivorn);
  if (upper_ivorn.find("ICECUBE") != std::string::npos || packet == "173" || packet == "174" || packet == "176") {
    event->source = "icecube";
    event->kind = SkyEvent::Kind::neutrino;
  } else {
    event->source = "voevent";
    event->kind = SkyEvent::Kind::other;
  }
  std::string run = param("run_id"), id = param("event_id");
  event->event_id = !run.empty() && !id.empty() ? run + "_" + id : ivorn;
  if (!param("Pkt_Ser_Num").empty())
    event->sequence = static_cast<uint32_t>(to_number(param("Pkt_Ser_Num"), place, "Pkt_Ser_Num"));
  event->alert_type = event->sequence <= 1 ? "INITIAL" : "UPDATE";
  event->test = lower(attribute(root, "role")) == "test" || lower(param("Test")) == "true" ||
                lower(param("InternalTest")) == "true";
  if (lower(param("Retraction")) == "true") {
    event->retracted = true;
    event->alert_type = "RETRACTION";
  }
  if (!param("FAR").empty()) event->far_hz = to_number(param("FAR"), place, "FAR") / kSecondsPerJulianYear;  // yr^-1
  if (!param("signalness").empty()) event->significance = to_number(param("signalness"), place, "signalness");
  event->localization.skymap_url = param("skymap_fits");
  xmlNodePtr where = find_descendant(root, "WhereWhen");
  if (!where) fail(place, "not a localization notice: no <WhereWhen>");
  xmlNodePtr iso = find_descendant(where, "ISOTime");
  if (!iso) fail(place, "no <ISOTime>");
  if (xmlNodePtr system = find_descendant(where, "AstroCoordSystem")) {
    std::string system_id = attribute(system, "id");
    if (!system_id.empty() && system_id.find("UTC") == std::string::npos)
      fail(place, "time system '" + system_id + "' is not UTC");
  }
  event->mjd_tai = time::iso_utc_to_mjd_tai(text_of(iso), place + ":ISOTime");
  xmlNodePtr c1 = find_descendant(where, "C1");
  xmlNodePtr c2 = find_descendant(where, "C2");
  xmlNodePtr radius = find_descendant(where, "Error2Radius");
  if (!c1 || !c2 || !radius) {
    if (event->retracted) return event;
    fail(place, "not a localization notice: no C1/C2/Error2Radius");
  }
  double ra = to_number(text_of(c1), place, "C1");
  double dec = to_number(text_of(c2), place, "C2");
  double r = to_number(text_of(radius), place, "Error2Radius");
  if (!(r > 0) || !std::isfinite(ra) || !(dec >= -90 && dec <= 90))
    fail(place, "bad position or error radius");
  // VOEvent's Error2Radius is a 90% containment radius for IceCube (src_error_90).
  ErrorRegion region = ErrorRegion::circle(ra, dec, r, 0.9);
  set_region(event->localization, region);
  event->notice_json = std::string(text);
  return event;
}

}  // namespace

bool is_mock_superevent_id(std::string_view id) {
  return id.size() > 1 && (id[0] == 'M' || id[0] == 'T') && id[1] == 'S';
}

namespace {

// An LVK or GraceDB notice names its superevent: a non-empty string, nothing else.
void check_superevent_id(const json& notice, const NoticeText& text, const std::string& place) {
  auto it = notice.find("superevent_id");
  if (it == notice.end() || it->is_null()) fail(place, "no superevent_id");
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    json written = *it;  // as the notice wrote it: no placeholder of a cut map
    text.restore(written);
    fail(place + ":superevent_id", "superevent_id must be a non-empty string, not " + written.dump());
  }
}

// What every event must satisfy, whatever notice it came from: a FAR is a rate (>= 0), a position
// is on the sky.
void check_event(const SkyEvent& event, const std::string& place) {
  if (std::isfinite(event.far_hz) && event.far_hz < 0)
    fail(place + ":far", "FAR " + std::to_string(event.far_hz) + " Hz is negative");
  const Localization& where = event.localization;
  if (!std::isnan(where.ra) && !(where.ra >= 0 && where.ra <= 360))
    fail(place + ":ra", "ra " + std::to_string(where.ra) + " is not in [0, 360] degrees");
  if (!std::isnan(where.dec) && !(where.dec >= -90 && where.dec <= 90))
    fail(place + ":dec", "dec " + std::to_string(where.dec) + " is not in [-90, 90] degrees");
}

std::vector<std::shared_ptr<SkyEvent>> parse_any_notice(std::string_view text, const std::string& source) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) fail(source, "empty notice");
  if (text[first] == '<') return {parse_voevent(text, source)};
  NoticeText cut(text);
  json notice = json::parse(cut.json_text(), nullptr, false);
  if (notice.is_discarded()) fail(source, "not valid JSON and not XML");
  if (!notice.is_object()) fail(source, "notice is not a JSON object");
  std::string place = source + " (notice " + notice_id(notice) + ")";
  if (notice.contains("superevent_id") && notice.contains("t_0") && !notice.contains("alert_type")) {
    check_superevent_id(notice, cut, place);
    return {parse_gracedb(notice, cut, place)};
  }
  // An igwn.gwalert notice has its superevent_id, time_created and event: without the id it is
  // still one, and refused.
  if (notice.contains("superevent_id") || (notice.contains("time_created") && notice.contains("event"))) {
    check_superevent_id(notice, cut, place);
    return {parse_lvk(notice, cut, place)};
  }
  return parse_gcn(notice, cut, place);
}

}  // namespace

std::vector<std::shared_ptr<SkyEvent>> parse_notice(std::string_view text, const std::string& source) {
  auto events = parse_any_notice(text, source);
  for (const auto& event : events) check_event(*event, source + " (notice " + event->event_id + ")");
  return events;
}

std::string drop_reason(const SkyEvent& event, bool keep_test, bool significant_only) {
  if (event.test && !keep_test) return "mock/test event (keep_test: false)";
  if (significant_only && !event.significant) return "not significant (significant_only: true)";
  return {};
}

}  // namespace ebs::notices
