#include "actors/common/repository/sky_index.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "test/support/subprocess.h"

using namespace ebs::repository;

namespace {

bool covered(const std::vector<std::pair<int64_t, int64_t>>& ranges, int64_t pixel) {
  for (const auto& [first, last] : ranges)
    if (pixel >= first && pixel <= last) return true;
  return false;
}

}  // namespace

TEST_CASE("cone pixel ranges cover every point inside the cone, at every radius and latitude") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (double radius_arcsec : {0.5, 2.0, 30.0, 600.0, 7200.0}) {
    for (double dec : {-89.99, -45.0, 0.0, 41.7, 89.5}) {
      const double ra = 359.9999 * u(rng);
      const double radius = radius_arcsec / 3600.0;
      auto ranges = cone_pixel_ranges(ra, dec, radius);
      CHECK(!ranges.empty());
      CHECK(ranges.size() < 64);  // a handful of SQL ranges, not thousands
      for (int i = 0; i < 400; ++i) {
        // Points on a ring just inside the radius (the hardest ones), across the ra=0 seam.
        double bearing = 2 * M_PI * u(rng);
        double r = radius * (0.999 - 0.5 * u(rng) * u(rng));
        double d2r = M_PI / 180;
        double dec2 = std::asin(std::sin(dec * d2r) * std::cos(r * d2r) +
                                std::cos(dec * d2r) * std::sin(r * d2r) * std::cos(bearing)) / d2r;
        double ra2 = ra + std::atan2(std::sin(bearing) * std::sin(r * d2r) * std::cos(dec * d2r),
                                     std::cos(r * d2r) - std::sin(dec * d2r) * std::sin(dec2 * d2r)) / d2r;
        ra2 = std::fmod(ra2 + 360.0, 360.0);
        REQUIRE(angular_distance_deg(ra, dec, ra2, dec2) <= radius * 1.0000001);
        INFO("radius " << radius_arcsec << " dec " << dec << " point " << ra2 << " " << dec2);
        CHECK(covered(ranges, sky_pixel(ra2, dec2)));
      }
    }
  }
}

TEST_CASE("sky pixels agree with healpy (NESTED, nside 65536)") {
  const double points[][2] = {{0.00123, 0.00456}, {359.99999, -89.9}, {123.456789, 45.6789}, {271.3, -29.01}, {10.0, 89.99}};
  std::ostringstream script;
  script.precision(17);
  script << "import healpy, numpy\n";
  for (const auto& p : points)
    script << "print(int(healpy.ang2pix(65536, " << p[0] << ", " << p[1] << ", nest=True, lonlat=True)))\n";
  ebs::test::CommandResult r =
      ebs::test::run_command("/usr/bin/python3 -c '" + script.str() + "'", std::filesystem::temp_directory_path());
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::istringstream lines(r.out);
  for (const auto& p : points) {
    int64_t expected = -1;
    lines >> expected;
    CHECK(sky_pixel(p[0], p[1]) == expected);
  }
}

TEST_CASE("angular distance is accurate at arcsecond separations") {
  CHECK(angular_distance_deg(10, 20, 10, 20 + 1.0 / 3600) * 3600 == doctest::Approx(1.0).epsilon(1e-9));
  CHECK(angular_distance_deg(359.9999, 0, 0.0001, 0) * 3600 == doctest::Approx(0.72).epsilon(1e-6));
  CHECK(angular_distance_deg(0, 90, 180, 90) == doctest::Approx(0.0));
}
