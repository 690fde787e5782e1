// `simulator`: a source of realistic synthetic survey alerts, so that a workflow runs with no
// external service. Objects of a few classes (supernova-like Bazin light curves, periodic
// variables, AGN-like random walks, bogus detections) are scattered over a sky region; each
// alert carries its light-curve history (detections and upper limits) and a ZTF-like raw record
// (candidate.jd, candidate.magpsf, candidate.rb, candidate.drb, ...) for filters.
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_simulator(ActorRegistry& registry);

}  // namespace ebs
