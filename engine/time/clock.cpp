#include "engine/time/clock.h"

#include <chrono>

#include "engine/time/time_scale.h"

namespace ebs::time {

double now_mjd_tai() {
  const double unix_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return mjd_utc_to_tai(40587.0 + unix_s / 86400.0);
}

}  // namespace ebs::time
