// `filter`: keeps the alerts for which an expression is true (docs/expressions.md). The
// expression is compiled once at load; a bad expression is a validate error with its column.
// Fields: the alert's core fields (ra, dec, mag, band, ...), `class` and `score.NAME` from its
// annotations, and any raw survey field by path (candidate.drb, diaSource.psfFlux).
#pragma once

#include "engine/graph/actor_registry.h"

namespace ebs {

void register_filter(ActorRegistry& registry);

}  // namespace ebs
