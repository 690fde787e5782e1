#include "actors/coincidence/significance.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace ebs::coincidence;

// Hand-computed from the formulas in /work/shared/reference/multimessenger.md (RAVEN).
TEST_CASE("RAVEN untargeted temporal FAR: window x external rate x GW FAR") {
  double grb_rate = 325.0 / kSecondsPerYear;  // Hz
  double gw_far = 1e-7;                        // Hz
  // (5 - (-1)) s * 325/yr * 1e-7 Hz = 6 * 1.02987e-5 * 1e-7 = 6.17921e-12 Hz
  CHECK(raven_untargeted_far(-1, 5, grb_rate, gw_far) == doctest::Approx(6.0 * 325.0 / 31557600.0 * 1e-7));
  CHECK(raven_untargeted_far(-1, 5, grb_rate, gw_far) == doctest::Approx(6.17921e-12).epsilon(1e-5));
}

TEST_CASE("RAVEN targeted temporal FAR: z (1 - ln(z / z_max))") {
  // Δt = 12 s ([-1, 11]), FAR_ext = 1e-4 Hz, FAR_gw = 1e-8 Hz: z = 1.2e-11.
  // Thresholds 1e-3 Hz and 1e-6 Hz: z_max = 1.2e-8; ln(1e-3) = -6.907755; FAR = 1.2e-11 * 7.907755.
  double far = raven_targeted_far(-1, 11, 1e-4, 1e-8, 1e-3, 1e-6);
  CHECK(far == doctest::Approx(1.2e-11 * (1 + 6.907755279)).epsilon(1e-9));
  CHECK(raven_targeted_far(-1, 11, 1e-3, 1e-6, 1e-3, 1e-6) == doctest::Approx(1.2e-8));  // z = z_max
}

TEST_CASE("sky-coupled FAR divides by the overlap integral") {
  CHECK(raven_sky_coupled_far(6e-12, 30) == doctest::Approx(2e-13));
  CHECK(std::isinf(raven_sky_coupled_far(6e-12, 0)));
}

TEST_CASE("GW x neutrino odds and optical chance probability") {
  auto t = gw_neutrino_odds(0.01, 50, true, 0.5, 0.9);
  CHECK(t.neutrino_odds == doctest::Approx(1));
  CHECK(t.gw_odds == doctest::Approx(9));
  CHECK(t.odds == doctest::Approx(0.01 * 50 * 9));
  CHECK(gw_neutrino_odds(0.01, 50, false, 0.5, 0.9).odds == 0);
  // 1 - exp(-0.01 * 100 * 2) = 1 - e^-2 = 0.864665
  CHECK(chance_coincidence_probability(0.01, 100, 2) == doctest::Approx(0.8646647168));
  CHECK(chance_coincidence_probability(0.01, 100, 0) == doctest::Approx(-std::expm1(-0.01 * 100 / 24)));
}
