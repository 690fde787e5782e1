#include "engine/model/light_curve.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

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

TEST_CASE("a history in time order as alerts carry it loses its duplicates without a sort, the detections recounted") {
  // Detections oldest first (as ZTF's prv_candidates), forced points newest first (its fp_hists),
  // bands of several letters: every kind and band runs in time order, so no sort decides.
  const double s = 1.0 / 86400;
  AlertCore core;
  core.mjd_tai = 60000.5;
  core.band = "ztfg";
  core.mag = 17.25;
  core.history = {point(59990.25, "ztfg", Photometry::Kind::detection, 10),
                  point(59990.25 + 0.08 * s, "ztfg", Photometry::Kind::detection, 11),  // the one before again
                  point(59990.25 + 0.08 * s, "ztfr", Photometry::Kind::detection, 12),  // another band: kept
                  point(59995.0, "ztfr", Photometry::Kind::upper_limit, 13),
                  point(59995.0 + 0.3 * s, "ztfr", Photometry::Kind::upper_limit, 14),  // 0.3 s apart: kept
                  point(60000.5 + 0.05 * s, "ztfg", Photometry::Kind::detection, 15),   // the alert's own again
                  point(60000.5, "ztfg", Photometry::Kind::forced, 16),
                  point(59999.5 + 0.01 * s, "ztfg", Photometry::Kind::forced, 17),
                  point(59999.5, "ztfg", Photometry::Kind::forced, 18)};  // backwards: this one kept, not 17
  core.history_detections = 4;
  remove_duplicate_points(core);
  std::vector<double> kept;
  for (const Photometry& p : core.history) kept.push_back(p.mag);
  CHECK(kept == std::vector<double>{10, 12, 13, 14, 16, 18});
  CHECK(core.history_detections == 2);  // recounted: 10 and 12

  // The same history with nothing to drop stays as it is (its count untouched).
  AlertCore distinct;
  distinct.mjd_tai = 60000.5;
  distinct.band = "g";
  distinct.history = {point(59990.25, "g"), point(59991.25, "gg"), point(59992.25, "g", Photometry::Kind::upper_limit)};
  distinct.history_detections = 7;
  remove_duplicate_points(distinct);
  CHECK(distinct.history.size() == 3);
  CHECK(distinct.history_detections == 7);
}

TEST_CASE("a history in time order and the same points shuffled keep the same points") {
  // Two paths decide: one pass for a history in time order (as alerts carry it), a sort otherwise.
  // Random histories with near duplicates (within and beyond 0.1 s), untimed points, three kinds
  // and bands; each point named by its magnitude. Distinct times, so no tie depends on position.
  // Band names of one letter and of several, of one length ("ztfg", "ztfr") and of two ("g", "gg").
  const double s = 1.0 / 86400;
  std::mt19937 rng(20261205);
  const char* band_sets[][3] = {{"g", "r", "i"}, {"ztfg", "ztfr", "ztfi"}, {"g", "gg", "r"}};
  const Photometry::Kind kinds[] = {Photometry::Kind::detection, Photometry::Kind::upper_limit, Photometry::Kind::forced};
  size_t dropped = 0;
  for (int round = 0; round < 500; ++round) {
    const char* const* bands = band_sets[(round / 2) % 3];
    std::vector<Photometry> history;
    double t = 59000;
    const int n = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < n; ++i) {
      const int step = std::uniform_int_distribution<int>(0, 3)(rng);
      t += step == 0 ? 0.04 * s : step == 1 ? 0.07 * s : step == 2 ? 0.2 * s : 1.5;  // near, nearer, apart, a night
      Photometry p = point(t, bands[rng() % 2 + (round % 3 == 0 ? 1 : 0)], kinds[rng() % 3], 10 + i);
      if (rng() % 10 == 0) p.mjd_tai = NAN;
      history.push_back(p);
    }
    Photometry own = point(t - 0.05 * s, bands[1], Photometry::Kind::detection, 99);
    // Half the rounds: the forced points after the others, newest first (as ZTF's prv_candidates
    // then fp_hists), which the walk without a sort takes too.
    if (round % 2) {
      auto forced = std::stable_partition(history.begin(), history.end(),
                                          [&](const Photometry& p) { return p.kind != Photometry::Kind::forced; });
      std::reverse(forced, history.end());
    }
    for (const Photometry* with_own : {static_cast<const Photometry*>(nullptr), static_cast<const Photometry*>(&own)}) {
      std::set<double> in_order;
      for (uint32_t i : distinct_points(history, with_own)) in_order.insert(history[i].mag);
      std::vector<Photometry> shuffled = history;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      std::set<double> sorted;
      for (uint32_t i : distinct_points(shuffled, with_own)) sorted.insert(shuffled[i].mag);
      REQUIRE(in_order == sorted);
      dropped += history.size() - in_order.size();
    }
  }
  CHECK(dropped > 500);  // the histories had duplicates to find
}
