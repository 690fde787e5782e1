#include "actors/common/repository/rows.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "actors/common/skymap/credible_moc.h"
#include "engine/util/hash.h"

namespace ebs::repository {

namespace {

void hash_field(Fnv1a64& hash, std::string_view value) {
  hash.add(value).add("\x1f");  // unit separator: fields cannot run into each other
}

void hash_field(Fnv1a64& hash, double value) {
  char bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  if (std::isnan(value)) std::memset(bytes, 0, sizeof bytes);  // every NaN is the same absent value
  hash.add(std::string_view(bytes, sizeof bytes)).add("\x1f");
}

}  // namespace

AnnotationFingerprint annotation_fingerprint_text(const Annotation& a) {
  // Hashed field by field as read: the same hash as of the fields joined (FNV-1a is a stream).
  Fnv1a64 hash;
  hash_field(hash, to_string(a.kind));
  hash_field(hash, a.name);
  hash_field(hash, a.value);
  hash_field(hash, a.catalogue);
  hash_field(hash, a.source_id);
  hash_field(hash, a.separation_arcsec);
  hash_field(hash, a.object_type);
  hash_field(hash, a.redshift);
  hash_field(hash, a.details);
  hash_field(hash, a.provenance.actor);
  hash_field(hash, a.provenance.actor_type);
  hash_field(hash, a.provenance.version);
  hash_field(hash, a.provenance.config_hash);
  AnnotationFingerprint text;
  write_hex64(text.data(), hash.value());
  return text;
}

std::string annotation_fingerprint(const Annotation& a) {
  const AnnotationFingerprint text = annotation_fingerprint_text(a);
  return std::string(text.data(), text.size());
}

bool PointSet::contains(const PointKey& key) const {
  auto it = times_.find({key.kind, key.band});
  if (it == times_.end()) return false;
  auto near = it->second.lower_bound(key.mjd_tai - kSamePointDays);
  return near != it->second.end() && *near <= key.mjd_tai + kSamePointDays;
}

bool PointSet::insert(PointKey key) {
  if (contains(key)) return false;
  times_[{key.kind, std::move(key.band)}].insert(key.mjd_tai);
  return true;
}

size_t PointSet::size() const {
  size_t n = 0;
  for (const auto& [group, times] : times_) n += times.size();
  return n;
}

size_t PointSet::memory_bytes() const {
  // glibc's chunks for a std::set<double> node (40 bytes) and a map node holding the band and
  // its set (~104 bytes), with the band's text when it does not fit the string itself.
  constexpr size_t kPointBytes = 48, kGroupBytes = 112;
  size_t bytes = 0;
  for (const auto& [group, times] : times_)
    bytes += kGroupBytes + (group.second.size() > 15 ? group.second.size() + 1 : 0) + times.size() * kPointBytes;
  return bytes;
}

size_t PointSet::entry_bytes(const std::string& object_id) {
  // An unordered_map node (next pointer, key, PointSet, cached hash) and its bucket pointer.
  constexpr size_t kNodeBytes = 8 + sizeof(std::string) + sizeof(PointSet) + 8 + 8 + 8;
  return kNodeBytes + (object_id.size() > 15 ? object_id.size() + 1 : 0);
}

Photometry::Kind photometry_kind(std::string_view kind) {
  return kind == "upper_limit" ? Photometry::Kind::upper_limit
         : kind == "forced"    ? Photometry::Kind::forced
                               : Photometry::Kind::detection;
}

std::string_view shape_name(Localization::Shape shape) {
  switch (shape) {
    case Localization::Shape::point: return "point";
    case Localization::Shape::circle: return "circle";
    case Localization::Shape::ellipse: return "ellipse";
    case Localization::Shape::skymap: return "skymap";
  }
  return "point";
}

std::string terms_json(const Coincidence& co) {
  nlohmann::json terms = nlohmann::json::array();
  for (const SignificanceTerm& t : co.terms)
    terms.push_back({{"name", t.name},
                     {"value", std::isfinite(t.value) ? nlohmann::json(t.value) : nlohmann::json()},
                     {"source", t.source}});
  return terms.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<EventMoc> credible_mocs(const SkyEvent& event, const std::string& place) {
  const std::string& fits = event.localization.skymap_fits;
  if (fits.empty()) return {};
  const skymap::Skymap map = skymap::Skymap::from_bytes(std::string_view(fits), place + ": sky map of " +
                                                                                event.event_id);
  std::vector<EventMoc> mocs;
  for (double level : kStoredCredibleLevels) {
    const skymap::Moc moc = skymap::credible_region_moc(map, level);
    mocs.push_back({level, moc.max_order, moc.area_deg2(), static_cast<int64_t>(moc.uniq.size()),
                    skymap::moc_to_json(moc).dump()});
  }
  return mocs;
}

}  // namespace ebs::repository
