#include "actors/common/skymap/skymap_notice.h"

#include <nlohmann/json.hpp>

#include "engine/util/base64.h"
#include "engine/util/fault.h"

namespace ebs::skymap {

std::string notice_id(const nlohmann::json& notice) {
  if (!notice.is_object()) return "?";
  if (auto it = notice.find("superevent_id"); it != notice.end() && it->is_string()) return *it;
  if (auto it = notice.find("id"); it != notice.end()) {
    if (it->is_string()) return *it;
    if (it->is_array() && !it->empty() && (*it)[0].is_string()) return (*it)[0];
  }
  return "?";
}

Skymap skymap_from_notice(const nlohmann::json& notice, const std::string& source) {
  std::string id = notice_id(notice);
  std::string place = source + " (notice " + id + ")";
  if (!notice.is_object()) fail(place, "notice is not a JSON object");
  const nlohmann::json* encoded = nullptr;
  std::string field;
  if (auto event = notice.find("event"); event != notice.end() && event->is_object()) {
    if (auto map = event->find("skymap"); map != event->end() && map->is_string()) {
      encoded = &*map;
      field = "event.skymap";
    }
  }
  if (!encoded) {
    if (auto map = notice.find("healpix_file"); map != notice.end() && map->is_string()) {
      encoded = &*map;
      field = "healpix_file";
    }
  }
  if (!encoded) {
    std::string why = "notice has no sky map (no event.skymap or healpix_file)";
    if (auto type = notice.find("alert_type"); type != notice.end() && type->is_string())
      why += "; alert_type " + type->get<std::string>();
    fail(place, why);
  }
  std::string map_place = place + ":" + field;
  std::string bytes = base64_decode(encoded->get_ref<const std::string&>(), map_place);
  return Skymap::from_bytes(std::string_view(bytes), map_place);
}

Skymap skymap_from_notice_text(std::string_view json_text, const std::string& source) {
  nlohmann::json notice = nlohmann::json::parse(json_text, nullptr, false);
  if (notice.is_discarded()) fail(source, "not valid JSON");
  return skymap_from_notice(notice, source);
}

Skymap load_skymap(const std::string& path_or_url) {
  if (path_or_url.rfind("http://", 0) == 0 || path_or_url.rfind("https://", 0) == 0)
    return Skymap::from_url(path_or_url);
  auto bytes = read_file_bytes(path_or_url);
  std::size_t first = 0;
  while (first < bytes.size() && std::isspace(bytes[first])) ++first;
  if (first < bytes.size() && bytes[first] == '{')
    return skymap_from_notice_text(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path_or_url);
  return Skymap::from_bytes(bytes, path_or_url);
}

}  // namespace ebs::skymap
