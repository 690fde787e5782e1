// The system clock's time on the engine's time scale: for stamps (dead letters, ...) and
// default "now"s, never for intervals (std::chrono::steady_clock).
#pragma once

namespace ebs::time {

// Now as MJD TAI (the system clock is UTC; the Unix epoch is MJD 40587 UTC).
double now_mjd_tai();

}  // namespace ebs::time
