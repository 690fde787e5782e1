#include "actors/crossmatch/cosmology.h"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "engine/util/fault.h"

#include "actors/crossmatch/python_oracle.h"

using namespace ebs::crossmatch;

TEST_CASE("kpc per arcsec agrees with astropy FlatLambdaCDM(H0=70, Om0=0.3).kpc_proper_per_arcmin") {
  const std::vector<double> redshifts{0.0005, 0.001, 0.01, 0.023, 0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 3.5};
  std::string list;
  for (double z : redshifts) list += (list.empty() ? "" : ",") + std::to_string(z);
  const std::string out = ebs::catalog::testing::run_python_oracle(
      "from astropy.cosmology import FlatLambdaCDM\n"
      "c = FlatLambdaCDM(H0=70, Om0=0.3)\n"
      "for z in [" + list + "]:\n"
      "    print(repr(c.kpc_proper_per_arcmin(z).value / 60.0), repr(c.angular_diameter_distance(z).value))\n");
  std::istringstream in(out);
  const FlatLambdaCdm cosmology(70, 0.3);
  for (double z : redshifts) {
    double kpc = 0, da = 0;
    REQUIRE(static_cast<bool>(in >> kpc >> da));
    INFO("z = " << z);
    CHECK(cosmology.kpc_per_arcsec(z) == doctest::Approx(kpc).epsilon(1e-9));
    CHECK(cosmology.angular_diameter_distance_mpc(z) == doctest::Approx(da).epsilon(1e-9));
  }
  // Another cosmology changes the answer (the parameters are used).
  const double other = FlatLambdaCdm(67.7, 0.31).kpc_per_arcsec(0.1);
  CHECK(std::abs(other / cosmology.kpc_per_arcsec(0.1) - 1) > 1e-3);
}

TEST_CASE("a redshift-independent distance gives distance x 1 arcsec in kpc") {
  CHECK(kpc_per_arcsec_at_distance(206.26480624709636) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(kpc_per_arcsec_at_distance(0) == 0);
}

TEST_CASE("impossible cosmological parameters are a fault") {
  CHECK_THROWS_AS(FlatLambdaCdm(0, 0.3), ebs::Fault);
  CHECK_THROWS_AS(FlatLambdaCdm(70, 1.5), ebs::Fault);
}
