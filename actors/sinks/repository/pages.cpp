#include "actors/sinks/repository/pages.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/common/skymap/skymap.h"
#include "actors/common/angle_text.h"
#include "actors/sinks/dashboard/image_png.h"
#include "actors/sinks/dashboard/skymap_png.h"
#include "actors/sinks/repository/query_forms.h"
#include "actors/sinks/repository/table_output.h"
#include "actors/common/repository/file_store.h"
#include "actors/common/repository/writer.h"
#include "engine/util/fault.h"

namespace ebs::repository {

namespace {

// Every row of a prepared statement as JSON, with the pages' time and id fields.
nlohmann::json all_rows(Statement& s) {
  nlohmann::json out = nlohmann::json::array();
  while (s.step()) out.push_back(row_to_json(s));
  add_people_fields(out);
  return out;
}

// Every row of `sql` with ?1 bound to `key`.
nlohmann::json rows_for(const Database& db, const std::string& sql, const std::string& key) {
  Statement s = db.prepare(sql);
  s.bind(1, key);
  return all_rows(s);
}

// The alert columns the pages list (no raw record).
constexpr const char* kAlertColumns =
    "a.alert_id, a.object_id, a.survey, a.ra, a.dec, a.mjd_tai, a.band, a.mag, a.mag_err, a.real_bogus, "
    "a.is_diff_pos";

std::filesystem::path stored_path(const Reader& reader, std::string_view written) {
  return stored_file_path(reader.database().path(), written);
}

// The file store's root (the sink's cutouts_dir), from where its cutouts are:
// ROOT/<alert_id % 1000>/<file>; else "cutouts" beside the database.
std::filesystem::path store_root(const Reader& reader) {
  Statement s = reader.database().prepare("SELECT path FROM cutouts LIMIT 1");
  if (s.step()) return stored_path(reader, s.text(0)).parent_path().parent_path();
  return std::filesystem::path(reader.database().path()).parent_path() / "cutouts";
}

// The sky map of the event's latest notice that carried one, if the file store has it.
std::optional<std::filesystem::path> skymap_file(const Reader& reader, const std::string& event_id) {
  Statement s = reader.database().prepare(
      "SELECT sequence FROM sky_events WHERE event_id = ?1 AND skymap_bytes > 0 ORDER BY sequence DESC");
  s.bind(1, event_id);
  const std::filesystem::path root = store_root(reader);
  while (s.step()) {
    std::filesystem::path file = root / skymap_store_name(event_id, s.integer(0));
    if (std::filesystem::exists(file)) return file;
  }
  return std::nullopt;
}

}  // namespace

nlohmann::json recent_alerts(const Reader& reader, int64_t limit) {
  Statement s = reader.database().prepare(
      std::string("SELECT ") + kAlertColumns +
      ", (SELECT n.name FROM annotations n WHERE n.alert_id = a.alert_id AND n.kind = 'classification' "
      "ORDER BY n.value DESC LIMIT 1) AS class FROM alerts a ORDER BY a.mjd_tai DESC, a.alert_id DESC LIMIT ?1");
  s.bind(1, limit);
  return all_rows(s);
}

nlohmann::json sky_events(const Reader& reader, int64_t limit) {
  Statement s = reader.database().prepare(
      "SELECT e.event_id, e.sequence, e.kind, e.alert_type, e.mjd_tai, e.shape, e.ra, e.dec, e.far_hz, "
      "e.significant, e.test, e.retracted, e.skymap_bytes, "
      "(SELECT count(DISTINCT c.object_id) FROM coincidences c WHERE c.event_id = e.event_id AND c.alert_id != 0) "
      "AS candidates FROM sky_events e WHERE e.sequence = (SELECT max(sequence) FROM sky_events x "
      "WHERE x.event_id = e.event_id) ORDER BY e.mjd_tai DESC LIMIT ?1");
  s.bind(1, limit);
  return all_rows(s);
}

nlohmann::json object_page(const Reader& reader, const std::string& object_id) {
  nlohmann::json page = reader.lightcurve(object_id);
  if (page.is_null()) return nullptr;
  add_people_fields(page);
  const Database& db = reader.database();
  page["alerts"] = rows_for(db,
                            std::string("SELECT ") + kAlertColumns +
                                ", (SELECT group_concat(k.kind) FROM cutouts k WHERE k.alert_id = a.alert_id) "
                                "AS cutouts FROM alerts a WHERE a.object_id = ?1 ORDER BY a.mjd_tai DESC",
                            object_id);
  page["annotations"] = rows_for(db, kObjectAnnotationsSql, object_id);
  page["coincidences"] = rows_for(db,
                                  "SELECT event_id, event_sequence, status, alert_id, time_difference_s, "
                                  "searched_probability, false_alarm_rate, alert_mjd_tai, alert_mag, alert_band "
                                  "FROM coincidences WHERE object_id = ?1 "
                                  "ORDER BY event_id, event_sequence",
                                  object_id);
  return page;
}

nlohmann::json event_page(const Reader& reader, const std::string& event_id) {
  const Database& db = reader.database();
  // The notices without their JSON (an LVK notice carries its whole sky map in base64).
  nlohmann::json page = {
      {"event_id", event_id},
      {"notices", rows_for(db,
                           "SELECT event_id, sequence, source, kind, alert_type, mjd_tai, shape, ra, dec, radius_deg, "
                           "semi_major_deg, semi_minor_deg, position_angle_deg, containment_probability, skymap_url, "
                           "skymap_version, skymap_bytes, far_hz, significance, significant, test, retracted "
                           "FROM sky_events WHERE event_id = ?1 ORDER BY sequence",
                           event_id)}};
  // Candidates ranked: the most probable position first (lowest searched probability), the
  // latest state of each object.
  page["candidates"] = rows_for(
      db,
      "SELECT c.object_id, c.alert_id, c.event_sequence, c.status, c.searched_probability, c.time_difference_s, "
      "c.false_alarm_rate, c.alert_ra AS ra, c.alert_dec AS dec, c.alert_mag AS mag, c.alert_band AS band, "
      "c.alert_mjd_tai AS mjd_tai FROM coincidences c WHERE c.event_id = ?1 AND c.alert_id != 0 "
      "AND c.event_sequence = (SELECT max(x.event_sequence) FROM coincidences x WHERE x.event_id = c.event_id "
      "AND x.object_id = c.object_id) ORDER BY c.status = 'withdrawn', c.searched_probability, c.object_id",
      event_id);
  page["pairs"] = rows_for(db,
                           "SELECT event_id, event_sequence, other_event_id, other_event_sequence, status, "
                           "time_difference_s, false_alarm_rate FROM coincidences "
                           "WHERE alert_id = 0 AND (event_id = ?1 OR other_event_id = ?1)",
                           event_id);
  if (page["notices"].empty() && page["candidates"].empty() && page["pairs"].empty()) return nullptr;
  // The stored credible regions (MOC 2.0) of the latest notice that has them, without the cells.
  page["mocs"] = rows_for(db,
                          "SELECT sequence, level, max_order, area_deg2, cells FROM sky_event_mocs m "
                          "WHERE event_id = ?1 AND sequence = (SELECT max(sequence) FROM sky_event_mocs "
                          "WHERE event_id = m.event_id) ORDER BY level",
                          event_id);
  page["skymap"] = nullptr;
  if (auto file = skymap_file(reader, event_id)) {
    try {
      const skymap::Skymap map = skymap::Skymap::from_file(file->string());
      const auto [ra, dec] = map.peak();
      page["skymap"] = {{"peak_ra", ra},
                        {"peak_dec", dec},
                        {"area_50", map.credible_area(0.5)},
                        {"area_90", map.credible_area(0.9)},
                        {"distance_mean", map.distance_mean() ? nlohmann::json(*map.distance_mean()) : nullptr},
                        {"distance_std", map.distance_std() ? nlohmann::json(*map.distance_std()) : nullptr}};
      // Where each candidate falls: in the 50 % or the 90 % region.
      for (nlohmann::json& c : page["candidates"]) {
        const double p = c.value("searched_probability", 2.0);
        c["region"] = p <= 0.5 ? "50%" : p <= 0.9 ? "90%" : "outside 90%";
      }
    } catch (const Fault& f) {
      page["skymap_error"] = f.what();
    }
  }
  return page;
}

nlohmann::json search(const Reader& reader, const std::string& query) {
  std::string q = query;
  while (!q.empty() && std::isspace(static_cast<unsigned char>(q.back()))) q.pop_back();
  while (!q.empty() && std::isspace(static_cast<unsigned char>(q.front()))) q.erase(q.begin());
  // A position: two or three words (RA DEC [RADIUS]), or "RA, DEC"; sexagesimal with ':' or h/m/s.
  std::string spaced = q;
  for (char& c : spaced)
    if (c == ',') c = ' ';
  std::istringstream words(spaced);
  std::vector<std::string> parts;
  for (std::string w; words >> w;) parts.push_back(w);
  const bool numeric_start = !q.empty() && (std::isdigit(static_cast<unsigned char>(q.front())) || q.front() == '+' ||
                                            q.front() == '-' || q.front() == '.');
  if (numeric_start && (parts.size() == 2 || parts.size() == 3 || parts.size() == 6 || parts.size() == 7)) {
    // Six words: "10 01 00 -05 02 03" (h m s d m s), optionally a radius after them.
    std::string ra_text = parts[0], dec_text = parts[1], radius_text = parts.size() == 3 ? parts[2] : "5";
    if (parts.size() >= 6) {
      ra_text = parts[0] + " " + parts[1] + " " + parts[2];
      dec_text = parts[3] + " " + parts[4] + " " + parts[5];
      radius_text = parts.size() == 7 ? parts[6] : "5";
    }
    const double ra = parse_ra_argument(ra_text), dec = parse_dec_argument(dec_text);
    const double radius = parse_radius_arcsec(radius_text);
    nlohmann::json hits = reader.cone(ra, dec, radius, 200);
    add_people_fields(hits);
    return {{"ra", ra}, {"dec", dec}, {"radius_arcsec", radius}, {"cone", std::move(hits)}};
  }
  Statement s = reader.database().prepare(
      "SELECT object_id, ra, dec, ndet, nalerts, last_mjd_tai, last_mag, last_band FROM objects "
      "WHERE object_id = ?1 OR object_id LIKE ?2 ESCAPE '\\' ORDER BY object_id = ?1 DESC, last_mjd_tai DESC LIMIT 50");
  std::string like;
  for (char c : q) {
    if (c == '%' || c == '_' || c == '\\') like += '\\';
    like += c;
  }
  s.bind(1, q).bind(2, like + "%");
  return {{"objects", all_rows(s)}};
}

std::optional<std::string> cutout_png(const Reader& reader, int64_t alert_id, const std::string& kind) {
  Statement s = reader.database().prepare("SELECT path, format FROM cutouts WHERE alert_id = ?1 AND kind = ?2");
  s.bind(1, alert_id).bind(2, kind);
  if (!s.step()) return std::nullopt;
  const std::filesystem::path path = stored_path(reader, s.text(0));
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "the cutout file is missing from the store");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return dashboard::cutout_png(bytes.str(), path.string());
}

std::optional<std::string> event_moc(const Reader& reader, const std::string& event_id, double level) {
  Statement s = reader.database().prepare(
      "SELECT moc FROM sky_event_mocs WHERE event_id = ?1 AND abs(level - ?2) < 1e-9 ORDER BY sequence DESC LIMIT 1");
  s.bind(1, event_id).bind(2, level);
  if (!s.step()) return std::nullopt;
  return std::string(s.text(0));
}

std::optional<std::string> event_skymap_png(const Reader& reader, const std::string& event_id) {
  auto file = skymap_file(reader, event_id);
  if (!file) return std::nullopt;
  return dashboard::mollweide_png(skymap::Skymap::from_file(file->string()), 720);
}

}  // namespace ebs::repository
