// The settings both repository sinks take (the SQLite `repository` and `postgres-repository`):
// when to commit and what of an alert to keep.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "actors/common/repository/writer.h"
#include "engine/graph/actor_type.h"

namespace ebs::repository {

// commit_records, flush_interval_ms, store_raw, raw_exclude, lightcurve_cache_objects,
// lightcurve_cache_mb.
std::vector<ConfigKey> shared_sink_config();
// Problems in those keys.
void check_shared_sink_config(const ActorConfig& config, std::vector<Problem>& problems);

struct CommitPolicy {
  size_t records = 5000;
  std::chrono::microseconds interval{100000};
};
CommitPolicy commit_policy(const ActorConfig& config);
// The writer options the shared keys set (the backend's own keys are read by the sink).
WriterOptions shared_writer_options(const ActorConfig& config, const std::string& actor);

// ActorType::uses_cutouts of both sinks: a file store (`cutouts_dir`), or raw records kept with a
// field that holds cutouts (`raw_exclude` without it).
bool sink_uses_cutouts(const ActorConfig& config, const std::vector<std::string>& cutout_fields);

}  // namespace ebs::repository
