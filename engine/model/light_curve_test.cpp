#include "engine/model/light_curve.h"

#include <doctest/doctest.h>

using namespace ebs;

namespace {
Photometry point(double mjd, const char* band, Photometry::Kind kind = Photometry::Kind::detection, double mag = 18) {
  Photometry p;
  p.mjd_tai = mjd;
  p.band = band;
  p.kind = kind;
  p.mag = mag;
  return p;
}
}  // namespace

TEST_CASE("one duplicate rule: same kind and band within 0.1 s, the alert's own value kept") {
  const double s = 1.0 / 86400;
  AlertCore core;
  core.mjd_tai = 60000.5;
  core.band = "g";
  core.mag = 17.25;
  core.limit_mag = 20.5;
  core.history = {point(60000.5 + 0.05 * s, "g"),                 // the alert's own detection again
                  point(60000.5, "r"),                            // another band: kept
                  point(60000.5, "g", Photometry::Kind::forced),  // another kind: kept
                  point(59990.25, "g"),
                  point(59990.25 + 0.08 * s, "g", Photometry::Kind::detection, 18.5),  // twice, last digits
                  point(59990.25 + 0.3 * s, "g")};                                     // 0.3 s apart: kept
  remove_duplicate_points(core);
  REQUIRE(core.history.size() == 4);
  CHECK(core.history[0].band == "r");
  CHECK(core.history[1].kind == Photometry::Kind::forced);
  CHECK(core.history[2].mjd_tai == 59990.25);
  CHECK(core.history[2].mag == 18);  // the first of the pair
  CHECK(core.history[3].mjd_tai == 59990.25 + 0.3 * s);
  CHECK(core.history_detections == 3);  // recounted: the forced point is not a detection

  Photometry own = own_detection(core);
  CHECK(own.mag == 17.25);
  CHECK(own.limit_mag == 20.5);  // stored with the limit its image had, as later histories carry it
  CHECK(same_point(own, point(60000.5 - 0.1 * s * 0.99, "g")));
  CHECK_FALSE(same_point(own, point(60000.5 - 0.11 * s, "g")));
}
