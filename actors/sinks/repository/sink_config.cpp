#include "actors/sinks/repository/sink_config.h"

#include <algorithm>

#include "engine/graph/actor_config.h"

namespace ebs::repository {

std::vector<ConfigKey> shared_sink_config() {
  return {
      {"commit_records", ValueKind::integer, false, "5000", "commit once this many records are pending"},
      {"flush_interval_ms", ValueKind::integer, false, "20", "commit what is pending at least this often"},
      {"store_raw", ValueKind::boolean, false, "true", "keep the raw survey record in alerts.raw"},
      {"raw_exclude", ValueKind::list, false,
       "[prv_candidates, fp_hists, prvDiaSources, prvDiaForcedSources, prvDiaNondetectionLimits, cutoutScience, "
       "cutoutTemplate, cutoutDifference]",
       "top-level raw fields left out of alerts.raw (light curves and cutouts are stored apart)"},
      {"lightcurve_cache_objects", ValueKind::integer, false, "200000",
       "objects whose stored light-curve points are remembered in memory"},
      {"lightcurve_cache_mb", ValueKind::mebibytes, false, "32",
       "bytes of those remembered points (a ZTF object with 30 points ~2 KB); full, the cache starts over"},
  };
}

void check_shared_sink_config(const ActorConfig& c, std::vector<Problem>& problems) {
  for (const char* key : {"commit_records", "flush_interval_ms"})
    if (c.integer(key) < 1) problems.push_back({c.place(key), "must be at least 1"});
  if (c.bytes("lightcurve_cache_mb") < 1) problems.push_back({c.place("lightcurve_cache_mb"), "must be at least 1 byte"});
}

CommitPolicy commit_policy(const ActorConfig& c) {
  return {static_cast<size_t>(std::max<int64_t>(1, c.integer("commit_records"))),
          std::chrono::milliseconds(std::max<int64_t>(1, c.integer("flush_interval_ms")))};
}

WriterOptions shared_writer_options(const ActorConfig& c, const std::string& actor) {
  WriterOptions options;
  options.store_raw = c.boolean("store_raw");
  options.raw_exclude = c.strings("raw_exclude");
  options.lightcurve_cache_objects = static_cast<size_t>(c.integer("lightcurve_cache_objects"));
  options.lightcurve_cache_bytes = static_cast<size_t>(std::max<int64_t>(1, c.bytes("lightcurve_cache_mb")));
  options.actor = actor;
  return options;
}

bool sink_uses_cutouts(const ActorConfig& config, const std::vector<std::string>& cutout_fields) {
  if (config.has("cutouts_dir") && !config.string("cutouts_dir").empty()) return true;
  if (!config.boolean("store_raw")) return false;
  const std::vector<std::string> excluded = config.strings("raw_exclude");
  for (const std::string& field : cutout_fields)
    if (std::find(excluded.begin(), excluded.end(), field) == excluded.end()) return true;
  return false;
}

}  // namespace ebs::repository
