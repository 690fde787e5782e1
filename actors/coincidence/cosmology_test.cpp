#include "actors/coincidence/cosmology.h"

#include <doctest/doctest.h>

#include "actors/coincidence/python_oracle.h"
#include "engine/util/fault.h"

using ebs::coincidence::FlatLambdaCDM;

TEST_CASE("luminosity distance agrees with astropy's FlatLambdaCDM(H0=70, Om0=0.3)") {
  const std::vector<double> redshifts = {1e-4, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0};
  std::string args;
  auto output = ebs::test::run_python_oracle(R"PY(
import sys
from astropy.cosmology import FlatLambdaCDM
c = FlatLambdaCDM(H0=70, Om0=0.3)
for z in sys.argv[1:]:
    z = float(z)
    print(repr(c.luminosity_distance(z).value), repr(c.comoving_distance(z).value))
)PY",
                                             {"1e-4", "0.01", "0.05", "0.1", "0.2", "0.5", "1.0", "2.0", "5.0"});
  auto rows = ebs::test::parse_rows(output);
  REQUIRE(rows.size() == redshifts.size());
  FlatLambdaCDM cosmology = FlatLambdaCDM::named("flat-lcdm-h70-om0.3");
  for (std::size_t i = 0; i < redshifts.size(); ++i) {
    INFO("z = " << redshifts[i]);
    CHECK(cosmology.luminosity_distance_mpc(redshifts[i]) == doctest::Approx(rows[i][0]).epsilon(1e-9));
    CHECK(cosmology.comoving_distance_mpc(redshifts[i]) == doctest::Approx(rows[i][1]).epsilon(1e-9));
    // Inverse and derivative are consistent with the forward distance.
    CHECK(cosmology.redshift_at_luminosity_distance(rows[i][0]) == doctest::Approx(redshifts[i]).epsilon(1e-10));
    double h = 1e-6 * std::max(1.0, redshifts[i]);
    double numeric = (cosmology.luminosity_distance_mpc(redshifts[i] + h) -
                      cosmology.luminosity_distance_mpc(std::max(0.0, redshifts[i] - h))) /
                     (redshifts[i] + h - std::max(0.0, redshifts[i] - h));
    CHECK(cosmology.luminosity_distance_derivative_mpc(redshifts[i]) == doctest::Approx(numeric).epsilon(1e-6));
  }
  CHECK(cosmology.luminosity_distance_mpc(0) == 0);
  CHECK(cosmology.redshift_at_luminosity_distance(0) == 0);
  CHECK_THROWS_AS(FlatLambdaCDM::named("planck18"), ebs::Fault);
  CHECK_THROWS_AS(cosmology.luminosity_distance_mpc(-1), ebs::Fault);
}
