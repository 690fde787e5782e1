#include "actors/common/cosmology.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "engine/util/fault.h"
#include "test/support/python_oracle.h"

using ebs::FlatLambdaCDM;

TEST_CASE("distances agree with astropy's FlatLambdaCDM(H0=70, Om0=0.3) to 1e-9") {
  const std::vector<std::string> redshifts = {"1e-4", "0.0005", "0.01", "0.023", "0.05", "0.1",
                                              "0.2",  "0.5",    "1.0",  "2.0",   "3.5",  "5.0"};
  std::istringstream rows(ebs::test::run_python_oracle(R"PY(
import sys
from astropy.cosmology import FlatLambdaCDM
c = FlatLambdaCDM(H0=70, Om0=0.3)
for z in sys.argv[1:]:
    z = float(z)
    print(repr(c.luminosity_distance(z).value), repr(c.comoving_distance(z).value),
          repr(c.angular_diameter_distance(z).value), repr(c.kpc_proper_per_arcmin(z).value / 60.0))
)PY",
                                                       redshifts));
  FlatLambdaCDM cosmology = FlatLambdaCDM::named("flat-lcdm-h70-om0.3");
  for (const std::string& text : redshifts) {
    double z = std::stod(text), luminosity = 0, comoving = 0, angular = 0, kpc = 0;
    REQUIRE(static_cast<bool>(rows >> luminosity >> comoving >> angular >> kpc));
    INFO("z = " << z);
    CHECK(cosmology.luminosity_distance_mpc(z) == doctest::Approx(luminosity).epsilon(1e-9));
    CHECK(cosmology.comoving_distance_mpc(z) == doctest::Approx(comoving).epsilon(1e-9));
    CHECK(cosmology.angular_diameter_distance_mpc(z) == doctest::Approx(angular).epsilon(1e-9));
    CHECK(cosmology.kpc_per_arcsec(z) == doctest::Approx(kpc).epsilon(1e-9));
    // Inverse and derivative are consistent with the forward distance.
    CHECK(cosmology.redshift_at_luminosity_distance(luminosity) == doctest::Approx(z).epsilon(1e-10));
    double h = 1e-6 * std::max(1.0, z), lo = std::max(0.0, z - h);
    double numeric = (cosmology.luminosity_distance_mpc(z + h) - cosmology.luminosity_distance_mpc(lo)) / (z + h - lo);
    CHECK(cosmology.luminosity_distance_derivative_mpc(z) == doctest::Approx(numeric).epsilon(1e-6));
  }
  // Other parameters change the answer (they are used).
  CHECK(std::abs(FlatLambdaCDM(67.7, 0.31).kpc_per_arcsec(0.1) / cosmology.kpc_per_arcsec(0.1) - 1) > 1e-3);
}

TEST_CASE("zero, a redshift-independent distance, and impossible input") {
  FlatLambdaCDM cosmology;
  CHECK(cosmology.luminosity_distance_mpc(0) == 0);
  CHECK(cosmology.redshift_at_luminosity_distance(0) == 0);
  CHECK(ebs::kpc_per_arcsec_at_distance(206.26480624709636) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(ebs::kpc_per_arcsec_at_distance(0) == 0);
  CHECK_THROWS_AS(FlatLambdaCDM::named("planck18"), ebs::Fault);
  CHECK_THROWS_AS(cosmology.luminosity_distance_mpc(-1), ebs::Fault);
  CHECK_THROWS_AS(cosmology.comoving_distance_mpc(NAN), ebs::Fault);
  CHECK_THROWS_AS(FlatLambdaCDM(0, 0.3), ebs::Fault);
  CHECK_THROWS_AS(FlatLambdaCDM(70, 1.5), ebs::Fault);
}
