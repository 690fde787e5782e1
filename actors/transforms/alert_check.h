// `alert-check`: a quality gate. Alerts with impossible values (non-finite or out-of-range
// coordinates or time, no object id, non-finite magnitude on a detection) go to dead letters with
// the reason; the rest pass unchanged.
#pragma once

#include <optional>
#include <string>

#include "engine/graph/actor_registry.h"
#include "engine/model/record.h"

namespace ebs {

// The first problem with the alert, if any.
std::optional<std::string> alert_problem(const AlertCore& alert);

void register_alert_check(ActorRegistry& registry);

}  // namespace ebs
