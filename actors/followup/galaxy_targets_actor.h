// `galaxy-targets`: for every sky event with a 3-D sky map, ranks a galaxy catalogue by host
// probability (galaxy_targets.h), writes the ranked list to `out_dir/<event>-<sequence>.galaxies.jsonl`
// (the lines of `ebs-flow skymap galaxies`) and keeps the top galaxies; alerts that lie within
// `host_radius_kpc` projected of one of them (at the galaxy's angular-diameter distance) get a
// `host_probability` score annotation. Events and alerts are forwarded.
#pragma once

#include "engine/graph/actor_type.h"

namespace ebs::followup {

ActorType galaxy_targets_actor_type();

}  // namespace ebs::followup
