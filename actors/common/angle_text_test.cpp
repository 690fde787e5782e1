#include "actors/common/angle_text.h"

#include <doctest/doctest.h>

#include <stdexcept>

#include "engine/util/fault.h"

using namespace ebs;

TEST_CASE("sexagesimal angles in the forms catalogues write them") {
  CHECK(parse_sexagesimal("10:23:45.6") == doctest::Approx(10 + 23 / 60.0 + 45.6 / 3600).epsilon(1e-15));
  CHECK(parse_sexagesimal("10 23 45.6") == doctest::Approx(10 + 23 / 60.0 + 45.6 / 3600).epsilon(1e-15));
  CHECK(parse_sexagesimal("10h23m45.6s") == doctest::Approx(10 + 23 / 60.0 + 45.6 / 3600).epsilon(1e-15));
  CHECK(parse_sexagesimal("-05:02:03") == doctest::Approx(-(5 + 2 / 60.0 + 3 / 3600.0)).epsilon(1e-15));
  CHECK(parse_sexagesimal("+29 35 34.0") == doctest::Approx(29 + 35 / 60.0 + 34 / 3600.0).epsilon(1e-15));
  // The sign of a zero-degree declination must not be lost.
  CHECK(parse_sexagesimal("-00 30 00") == doctest::Approx(-0.5));
  CHECK(parse_sexagesimal(" 10 23.5 ") == doctest::Approx(10 + 23.5 / 60));
  CHECK(parse_sexagesimal("12.25") == 12.25);
  CHECK_THROWS_AS(parse_sexagesimal(""), ebs::Fault);
  CHECK_THROWS_AS(parse_sexagesimal("10:75:00"), ebs::Fault);
  CHECK_THROWS_AS(parse_sexagesimal("10:20:60"), ebs::Fault);
  CHECK_THROWS_AS(parse_sexagesimal("10:20:30:40"), ebs::Fault);
  CHECK_THROWS_AS(parse_sexagesimal("ten"), ebs::Fault);
  CHECK_THROWS_AS(parse_sexagesimal("10:x"), ebs::Fault);
}

TEST_CASE("angle arguments: degrees or sexagesimal") {
  CHECK(parse_ra_argument("150.25") == 150.25);
  CHECK(parse_ra_argument("10:01:00") == doctest::Approx(150.25));
  CHECK(parse_dec_argument("-05:02:03") == doctest::Approx(-(5 + 2 / 60.0 + 3 / 3600.0)));
  CHECK(parse_dec_argument("-0.5") == -0.5);
  CHECK_THROWS_WITH_AS(parse_ra_argument("360"), doctest::Contains("RA: '360' is outside [0, 360)"), ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_dec_argument("91"), doctest::Contains("outside [-90, 90]"), ebs::Fault);
  CHECK_THROWS_AS(parse_ra_argument("abc"), ebs::Fault);
}

TEST_CASE("angle arguments tolerate blanks around them and name the bad text") {
  CHECK(parse_ra_argument(" 10 01 00 ") == doctest::Approx(150.25));
  CHECK(parse_ra_argument("10h01m00s") == doctest::Approx(150.25));
  CHECK(parse_dec_argument("+41d16m09s") == doctest::Approx(41 + 16 / 60.0 + 9 / 3600.0));
  CHECK_THROWS_WITH_AS(parse_dec_argument("north"), doctest::Contains("DEC: 'north' is not an angle"), ebs::Fault);
}
