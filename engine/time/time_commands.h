// `ebs-flow time convert`: one instant in every form the engine meets (MJD TAI, MJD/JD UTC,
// ISO 8601 UTC, GPS seconds).
#pragma once

#include "engine/cli/command_registry.h"

namespace ebs {

// time convert VALUE [--scale utc|tai|tt|gps] [--jd] [--gps-seconds]
//   VALUE is an ISO 8601 UTC time, or a number: an MJD (a JD with --jd) in --scale (default utc),
//   or GPS seconds with --gps-seconds. Prints one JSON line.
void register_time_commands(CommandRegistry& registry);

}  // namespace ebs
