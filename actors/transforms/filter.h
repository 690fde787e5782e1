// `filter`: keeps the alerts for which an expression is true (docs/expressions.md). The
// expression is compiled once at load; a bad expression is a validate error with its column.
// Fields: the alert's core fields (ra, dec, mag, band, ...), `class` and `score.NAME` from its
// annotations, and any raw survey field by path (candidate.drb, diaSource.psfFlux).
#pragma once

#include <functional>
#include <string>

#include "engine/expr/program.h"
#include "engine/graph/actor_registry.h"
#include "engine/model/record.h"

namespace ebs {

// Reads one field of an alert as an expression value (null when absent).
using AlertField = std::function<expr::Value(const Alert&)>;
AlertField compile_alert_field(const std::string& path);

void register_filter(ActorRegistry& registry);

}  // namespace ebs
