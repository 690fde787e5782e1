#include "actors/common/catalog/sky_geometry.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "engine/util/fault.h"
#include "test/support/python_oracle.h"

using namespace ebs::catalog;

TEST_CASE("Julian epochs and MJD") {
  CHECK(mjd_from_julian_epoch(2000.0) == 51544.5);
  CHECK(mjd_from_julian_epoch(2016.0) == 57388.5);  // Gaia DR3 reference epoch
  CHECK(julian_epoch_from_mjd(57388.5) == doctest::Approx(2016.0).epsilon(1e-15));
}

TEST_CASE("unit vectors round-trip and the vector separation agrees with Vincenty") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ra(0, 360), z(-1, 1);
  for (int i = 0; i < 1000; ++i) {
    const double r1 = ra(rng), d1 = std::asin(z(rng)) * kDegPerRad;
    const double r2 = ra(rng), d2 = std::asin(z(rng)) * kDegPerRad;
    double back_ra, back_dec;
    to_ra_dec(unit_vector(r1, d1), back_ra, back_dec);
    CHECK(std::abs(back_ra - r1) * std::cos(d1 / kDegPerRad) * 3600 < 1e-9);
    CHECK(std::abs(back_dec - d1) * 3600 < 1e-9);
    const double vector_sep = separation_rad(unit_vector(r1, d1), unit_vector(r2, d2)) * kArcsecPerRad;
    CHECK(std::abs(vector_sep - angular_separation_arcsec(r1, d1, r2, d2)) < 1e-6);
  }
}

TEST_CASE("separations agree with astropy SkyCoord.separation to 1e-6 arcsec") {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0, 1);
  struct Pair {
    double ra1, dec1, ra2, dec2;
  };
  std::vector<Pair> pairs;
  // Separations from 1e-6" to antipodal, including positions at the poles and across RA 0/360.
  const double scales_arcsec[] = {1e-6, 1e-4, 1e-2, 1, 30, 600, 3600, 36000, 324000, 647000};
  for (int i = 0; i < 400; ++i) {
    const double ra1 = 360 * uniform(rng);
    double dec1 = std::asin(2 * uniform(rng) - 1) * kDegPerRad;
    if (i % 10 == 1) dec1 = 89.9999 + 1e-4 * uniform(rng);
    if (i % 10 == 2) dec1 = -89.99999;
    const double scale = scales_arcsec[i % 10] / 3600 * (0.5 + uniform(rng));
    const double angle = 2 * kPi * uniform(rng);
    double dec2 = dec1 + scale * std::cos(angle);
    double ra2 = ra1 + scale * std::sin(angle) / std::max(std::cos(dec1 / kDegPerRad), 1e-3);
    dec2 = std::clamp(dec2, -90.0, 90.0);
    ra2 = std::fmod(ra2 + 720.0, 360.0);
    if (i % 10 == 3) ra2 = 359.9999999;  // across RA 0/360 from small ra1
    pairs.push_back({ra1, dec1, ra2, dec2});
  }
  std::ostringstream script;
  script.precision(17);
  script << "import sys\nfrom astropy.coordinates import SkyCoord\nimport astropy.units as u\nimport numpy as np\n"
         << "p = np.array([";
  for (const Pair& p : pairs) script << "[" << p.ra1 << "," << p.dec1 << "," << p.ra2 << "," << p.dec2 << "],";
  script << "])\n"
         << "a = SkyCoord(p[:,0]*u.deg, p[:,1]*u.deg)\nb = SkyCoord(p[:,2]*u.deg, p[:,3]*u.deg)\n"
         << "for s in a.separation(b).to_value(u.arcsec): print(repr(float(s)))\n";
  std::istringstream expected(ebs::test::run_python_oracle(script.str()));
  double worst = 0;
  for (const Pair& p : pairs) {
    double astropy = 0;
    REQUIRE(static_cast<bool>(expected >> astropy));
    const double ours = angular_separation_arcsec(p.ra1, p.dec1, p.ra2, p.dec2);
    const double vector = separation_rad(unit_vector(p.ra1, p.dec1), unit_vector(p.ra2, p.dec2)) * kArcsecPerRad;
    worst = std::max({worst, std::abs(ours - astropy), std::abs(vector - astropy)});
    CHECK(std::abs(ours - astropy) < 1e-6);
    CHECK(std::abs(vector - astropy) < 1e-6);
  }
  MESSAGE("worst difference from astropy: " << worst << " arcsec over " << pairs.size() << " pairs");
}

namespace {

struct MovingStar {
  double ra, dec, pmra, pmdec, years;
};

// Random stars all over the sky, every tenth near a pole; proper motions up to `max_pm` mas/yr.
std::vector<MovingStar> moving_stars(uint64_t seed, int count, double max_pm, double max_years, double pole_dec) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<MovingStar> stars;
  for (int i = 0; i < count; ++i) {
    double dec = std::asin(2 * uniform(rng) - 1) * kDegPerRad;
    if (i % 10 == 0) dec = i % 20 == 0 ? pole_dec : -pole_dec;
    stars.push_back({360 * uniform(rng), dec, 2 * max_pm * uniform(rng) - max_pm, 2 * max_pm * uniform(rng) - max_pm,
                     2 * max_years * uniform(rng) - max_years});
  }
  return stars;
}

// The stars as a numpy array `s` (ra, dec, pmra, pmdec, years), for an oracle script.
std::string stars_array(const std::vector<MovingStar>& stars) {
  std::ostringstream out;
  out.precision(17);
  out << "s = np.array([";
  for (const MovingStar& s : stars) out << "[" << s.ra << "," << s.dec << "," << s.pmra << "," << s.pmdec << "," << s.years << "],";
  out << "])\n";
  return out.str();
}

// The largest separation (arcsec) between propagate_proper_motion and the oracle's "ra dec" lines.
double worst_difference(const std::vector<MovingStar>& stars, const std::string& oracle_output, double tolerance) {
  std::istringstream expected(oracle_output);
  double worst = 0;
  for (const MovingStar& s : stars) {
    double ra = 0, dec = 0;
    REQUIRE(static_cast<bool>(expected >> ra >> dec));
    const UnitVector moved = propagate_proper_motion(unit_vector(s.ra, s.dec), s.pmra, s.pmdec, s.years);
    const double difference = separation_rad(moved, unit_vector(ra, dec)) * kArcsecPerRad;
    worst = std::max(worst, difference);
    CAPTURE(s.ra);
    CAPTURE(s.dec);
    CAPTURE(s.pmra);
    CAPTURE(s.pmdec);
    CAPTURE(s.years);
    CHECK(difference < tolerance);
  }
  return worst;
}

}  // namespace

TEST_CASE("proper-motion propagation is the Gaia epoch-propagation formula with zero parallax and radial velocity") {
  // The formula (Gaia DR3 documentation, section 4.1.7; Hipparcos catalogue vol. 1, 1.2.8) with
  // parallax and radial velocity 0: r(t) = (r0 + t mu) / sqrt(1 + t^2 |mu|^2), mu = p pmra + q pmdec
  // in the tangent plane (p east, q north); written here independently with numpy.
  const auto stars = moving_stars(11, 200, 10000, 100, 89.999);
  const std::string script =
      "import numpy as np\n" + stars_array(stars) +
      "a, d = np.radians(s[:,0]), np.radians(s[:,1])\n"
      "r0 = np.stack([np.cos(d)*np.cos(a), np.cos(d)*np.sin(a), np.sin(d)], 1)\n"
      "p = np.stack([-np.sin(a), np.cos(a), np.zeros_like(a)], 1)\n"
      "q = np.stack([-np.sin(d)*np.cos(a), -np.sin(d)*np.sin(a), np.cos(d)], 1)\n"
      "mas = np.radians(1 / 3.6e6)\n"
      "mu = (p * s[:,2:3] + q * s[:,3:4]) * mas\n"
      "t = s[:,4:5]\n"
      "r = (r0 + t * mu) / np.sqrt(1 + t**2 * np.sum(mu**2, 1, keepdims=True))\n"
      "for x in r: print(repr(float(np.degrees(np.arctan2(x[1], x[0])) % 360)), repr(float(np.degrees(np.arctan2(x[2], np.hypot(x[0], x[1]))))))\n";  // atan2: exact near the poles
  const double worst = worst_difference(stars, ebs::test::run_python_oracle(script), 1e-7);
  MESSAGE("worst propagation difference from the Gaia formula: " << worst << " arcsec");
}

TEST_CASE("proper-motion propagation agrees with SOFA pmsafe (pyerfa) given a real parallax") {
  const auto stars = moving_stars(3, 100, 1000, 20, 89.99);
  // SOFA's rigorous space motion (erfa.pmsafe, as packaged with astropy), zero radial velocity.
  // The parallax (1") only sets the space velocity: for a distant star the same proper motion
  // is a sizeable fraction of c and pmsafe's relativistic terms move it by ~1e-4 of the motion.
  const std::string script =
      "import warnings\nwarnings.simplefilter('ignore')\nimport erfa\nimport numpy as np\n" + stars_array(stars) +
      "mas = np.radians(1 / 3.6e6)\n"
      "ra, dec = np.radians(s[:,0]), np.radians(s[:,1])\n"
      "t0 = 2451545.0 + 16 * 365.25\n"
      "r = erfa.pmsafe(ra, dec, s[:,2] * mas / np.cos(dec), s[:,3] * mas, 1.0, 0.0,\n"
      "                t0, 0.0, t0 + s[:,4] * 365.25, 0.0)\n"
      "for a, d in zip(np.degrees(r[0]) % 360, np.degrees(r[1])): print(repr(float(a)), repr(float(d)))\n";
  const double worst = worst_difference(stars, ebs::test::run_python_oracle(script), 1e-5);
  MESSAGE("worst propagation difference from pmsafe: " << worst << " arcsec");
}
