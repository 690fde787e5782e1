// Sky maps carried by GCN notices: the LVK `igwn.gwalert` JSON notice's `event.skymap` (base64 of
// a multi-order FITS file) and a GCN Localization's `healpix_file` (base64 FITS).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "actors/common/skymap/skymap.h"

namespace ebs::skymap {

// The notice's id for messages: superevent_id, else id[0], else "?".
std::string notice_id(const nlohmann::json& notice);

// Faults name `source` (a file, a topic/partition/offset) and the notice id; a notice without a
// map (e.g. a RETRACTION, whose `event` is null) is a fault too.
Skymap skymap_from_notice(const nlohmann::json& notice, const std::string& source);
Skymap skymap_from_notice_text(std::string_view json_text, const std::string& source);

// Opens a sky map given on a command line: a FITS file (plain or gzipped), a JSON GCN notice with
// an embedded map, or an http(s) URL of a FITS file.
Skymap load_skymap(const std::string& path_or_url);

}  // namespace ebs::skymap
