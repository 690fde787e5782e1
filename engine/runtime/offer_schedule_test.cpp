#include "engine/runtime/offer_schedule.h"

#include <doctest/doctest.h>

#include <initializer_list>
#include <limits>

using namespace ebs;

TEST_CASE("a steady rate offers record n at n / rate") {
  OfferSchedule s(OfferRate{2000, 0, 0});
  CHECK(s.limited());
  CHECK(s.due(0) == 0);
  CHECK(s.due(1.0) == 2000);
  CHECK(s.due(0.0104) == 20);
  CHECK(s.offer_time(0) == doctest::Approx(0.0005));
  CHECK(s.offer_time(1999) == doctest::Approx(1.0));
  for (uint64_t n : {0, 1, 17, 1000, 123456}) {
    double t = s.offer_time(n);
    CHECK(s.due(t) > n);
    CHECK(s.due(t * (1 - 1e-6)) <= n);  // the earliest such time
  }
  CHECK_FALSE(OfferSchedule().limited());
}

TEST_CASE("bursts add their records at once every every_s, on top of the rate") {
  OfferSchedule s(OfferRate{100, 30, 10000});
  CHECK(s.due(29.99) == 2999);
  CHECK(s.due(30.0) == 3000 + 10000);
  CHECK(s.due(60.0) == 6000 + 20000);
  // Record 2999 is the last of the steady stream before the burst; the burst's records and
  // the steady record due at 30 s are all offered at 30 s.
  CHECK(s.offer_time(2998) == doctest::Approx(29.99));
  CHECK(s.offer_time(3000) == doctest::Approx(30.0));
  CHECK(s.offer_time(12999) == doctest::Approx(30.0));
  CHECK(s.offer_time(13000) == doctest::Approx(30.01));
  OfferSchedule only_bursts(OfferRate{0, 0.5, 100});
  CHECK(only_bursts.limited());
  CHECK(only_bursts.due(0.49) == 0);
  CHECK(only_bursts.offer_time(99) == doctest::Approx(0.5));
  CHECK(only_bursts.offer_time(100) == doctest::Approx(1.0));
}

TEST_CASE("instances share an actor's rate and bursts") {
  OfferRate r{1000, 30, 10001};
  OfferRate a = r.share(0, 2), b = r.share(1, 2);
  CHECK(a.rate + b.rate == doctest::Approx(1000));
  CHECK(a.burst_records + b.burst_records == 10001);
  CHECK(a.burst_records == 5001);
  CHECK(r.share(0, 1).rate == 1000);
}

TEST_CASE("counts past what uint64_t holds saturate instead of overflowing (an infinite or huge rate, many bursts)") {
  constexpr uint64_t most = std::numeric_limits<uint64_t>::max();
  OfferSchedule infinite(OfferRate{std::numeric_limits<double>::infinity(), 0, 0});
  CHECK(infinite.due(1e-9) == most);
  CHECK(infinite.offer_time(0) > 0);
  CHECK(infinite.offer_time(0) < 1e-6);
  OfferSchedule huge(OfferRate{1e300, 0, 0});
  CHECK(huge.due(1e10) == most);
  CHECK(huge.offer_time(1000) < 1e-6);
  // Bursts: the product and the sum saturate too.
  OfferSchedule bursts(OfferRate{1e19, 1, uint64_t{1} << 62});
  CHECK(bursts.due(8.0) == most);
  CHECK(bursts.due(0.5) == 5'000'000'000'000'000'000ull);
  CHECK(OfferSchedule(OfferRate{0, 1e-300, 1000}).due(1e10) == most);
  // No time has more than `most` records due: offer_time says so instead of looping.
  CHECK(huge.offer_time(most) == std::numeric_limits<double>::infinity());
}
