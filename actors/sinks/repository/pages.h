// What the pages of `ebs-flow serve` show (web/repository.html, in the dashboard's style), read
// from a repository: Lasair-style object pages, sky-event pages, search by name or position,
// recent alerts; and their images (cutouts from the file store, a sky event's map).
//   GET /  /objects/{id}  /events/{id}  /search?q=     the page (it reads the path)
//   GET /api/recent[?limit=]                           latest alerts, newest first
//   GET /api/events                                    sky events, latest notice of each
//   GET /api/objects/{id}                              object, light curve, alerts, annotations, coincidences
//   GET /api/events/{id}                               notices, map summary, candidates ranked, MOCs
//   GET /api/events/{id}/moc[?level=0.5|0.9]           a credible region as MOC 2.0 JSON (default 0.9)
//   GET /api/search?q=NAME | q=RA DEC [RADIUS_ARCSEC]  objects by name (prefix), or alerts in a cone
//   GET /cutout/{alert id}/{science|template|difference}.png, /skymap/{event id}.png
// Times carry iso_utc and jd_utc beside mjd_tai; ids are strings in JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "actors/common/repository/reader.h"

namespace ebs::repository {

nlohmann::json recent_alerts(const Reader& reader, int64_t limit);
nlohmann::json sky_events(const Reader& reader, int64_t limit);
// Null when the repository does not hold the object / event.
nlohmann::json object_page(const Reader& reader, const std::string& object_id);
nlohmann::json event_page(const Reader& reader, const std::string& event_id);
// {"objects": [...]} for a name, {"cone": [...], "ra", "dec", "radius_arcsec"} for a position.
nlohmann::json search(const Reader& reader, const std::string& query);

// The object page's annotations (?1 the object id): every annotation of every alert of the
// object, with its provenance, newest first, in the order stored within one alert and kind.
// Found through the alerts (alerts_object, then annotations' unique (alert_id, fingerprint)):
// annotations.object_id has no index since schema version 6. `object_id = ?1` as well, because
// writers before version 4 could store an ignored alert's annotations under an alert_id already
// taken by another object's alert, with the ignored alert's object_id: such a row is not
// listed, rather than listed under the wrong object.
inline constexpr const char* kObjectAnnotationsSql =
    "SELECT alert_id, mjd_tai, kind, name, value, catalogue, source_id, separation_arcsec, "
    "object_type, redshift, details, actor, actor_type, version, config_hash "
    "FROM annotations WHERE alert_id IN (SELECT alert_id FROM alerts WHERE object_id = ?1) AND object_id = ?1 "
    "ORDER BY mjd_tai DESC, kind, name, annotation_id";

// PNG of a stored cutout (zscale, north up); nullopt when the repository has none of that kind.
std::optional<std::string> cutout_png(const Reader& reader, int64_t alert_id, const std::string& kind);
// The MOC 2.0 JSON of the event's credible region at `level` (0.5 or 0.9, what the repository
// stores), of its latest notice that has one; nullopt without.
std::optional<std::string> event_moc(const Reader& reader, const std::string& event_id, double level);
// PNG of the sky map in the event's latest notice that carries one (Mollweide); nullopt without.
std::optional<std::string> event_skymap_png(const Reader& reader, const std::string& event_id);

}  // namespace ebs::repository
