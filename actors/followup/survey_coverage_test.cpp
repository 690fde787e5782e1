#include "actors/followup/survey_coverage.h"

#include <doctest/doctest.h>

#include <cmath>

#include "test/support/skymap_oracle.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::followup;
using ebs::skymap::Skymap;

namespace {

// All-sky maps at order 0: `base4` of the probability in base pixel 4 (around ra 0, dec 0), the
// rest spread evenly over the other eleven.
Skymap synthetic_map(double base4) {
  std::vector<std::uint64_t> uniq;
  std::vector<double> density;
  const double area = M_PI / 3;
  for (std::uint64_t pixel = 0; pixel < 12; ++pixel) {
    uniq.push_back(ebs::skymap::nest_to_uniq(0, pixel));
    density.push_back(pixel == 4 ? base4 / area : (1 - base4) / (11 * area));
  }
  return Skymap::from_columns("synthetic", ebs::skymap::SkymapOrdering::nuniq, {}, uniq, density, {});
}

double cap_fraction(double radius_deg) { return (1 - std::cos(radius_deg * M_PI / 180)) / 2; }
// Solid angle of a gnomonic rectangle with tangent-plane half-sides a, b (radians of the plane).
double gnomonic_rectangle_sr(double a, double b) { return 4 * std::asin(a * b / std::sqrt((1 + a * a) * (1 + b * b))); }

}  // namespace

TEST_CASE("survey coverage: fields covering a known fraction of synthetic maps give that fraction") {
  const std::string plan_text = R"(
footprints:
  circle5: {radius: 5}
  square: {polygon: [[-3, -3], [3, -3], [3, 3], [-3, 3]]}
pointings:
  - {ra: 0, dec: 0, time: "2022-07-23T03:00:00", footprint: circle5}
  - {ra: 200, dec: -40, time: "2022-07-23T05:00:00Z", footprint: square}
  - {ra: 0, dec: 0, mjd: 59784.1, footprint: square}
)";
  const SurveyPlan plan = parse_survey_plan(plan_text, "plan.yaml");
  REQUIRE(plan.pointings.size() == 3);
  const double a = 3 * M_PI / 180;
  const double square = gnomonic_rectangle_sr(a, a) / (4 * M_PI);

  SUBCASE("uniform map: the fraction of the sphere") {
    const auto nights = survey_coverage(synthetic_map(1.0 / 12), plan);
    REQUIRE(nights.size() == 2);
    CHECK(nights[0].night == "2022-07-22");
    CHECK(nights[0].pointings == 2);
    CHECK(nights[0].probability == doctest::Approx(cap_fraction(5) + square).epsilon(0.01));
    CHECK(nights[1].night == "2022-07-23");
    CHECK(nights[1].probability == doctest::Approx(square).epsilon(0.01));
    // The second night's square lies inside the first night's circle: nothing new.
    CHECK(nights[1].cumulative_probability == doctest::Approx(nights[0].cumulative_probability).epsilon(1e-12));
    // The 90 % region of a uniform map is 90 % of the sky; its observed area is the fields' area.
    CHECK(nights[0].area_90_deg2 <= nights[0].probability * 4 * 180 * 180 / M_PI * (1 + 1e-9));
  }
  SUBCASE("half the probability in base pixel 4: a circle inside it holds half its area fraction") {
    const auto nights = survey_coverage(synthetic_map(0.5), plan);
    const double pixel4 = (M_PI / 3) / (4 * M_PI);
    const double expected = 0.5 * cap_fraction(5) / pixel4 + 0.5 / 11 * square / pixel4;
    CHECK(nights[0].probability == doctest::Approx(expected).epsilon(0.01));
    CHECK(nights[0].area_90_deg2 > 0);
  }
}

TEST_CASE("survey coverage: alerts per night inside the 90 % region; local nights at a site's longitude") {
  const SurveyPlan plan = parse_survey_plan(R"(
site_longitude_deg: -116.86
footprints: {c: {radius: 1}}
pointings: [{ra: 0, dec: 0, mjd: 59783.40, footprint: c}]
)", "plan.yaml");
  // At Palomar, 59783.40 UTC (09:36) is 01:49 local time: the night that began on the 22nd.
  CHECK(night_of(59783.40, -116.86) == "2022-07-22");
  CHECK(night_of(59783.60, -116.86) == "2022-07-22");  // 06:35 local: still that night
  CHECK(night_of(59783.90, -116.86) == "2022-07-23");  // 13:47 local: the next one
  CHECK(night_of(59783.40, 0) == "2022-07-22");
  CHECK(night_of(59783.55, 0) == "2022-07-23");
  // Base pixel 4 (0.5) and then, by the tie order (descending UNIQ), pixels 11, 10, ... make the
  // 90 % region; base pixel 0 (around ra 45, dec 60) comes last.
  const std::vector<AlertPosition> alerts = {{0, 0, 59783.40}, {1, 1, 59783.41}, {45, 60, 59783.42}, {0, 0, 59784.9}};
  const auto nights = survey_coverage(synthetic_map(0.5), plan, alerts);
  REQUIRE(nights.size() == 2);
  CHECK(nights[0].alerts == 3);
  CHECK(nights[0].alerts_in_90 == 2);
  CHECK(nights[1].pointings == 0);
  CHECK(nights[1].alerts == 1);
  CHECK(nights[1].alerts_in_90 == 1);
  CHECK(nights[1].cumulative_probability == nights[0].cumulative_probability);
}

TEST_CASE("survey coverage of MS220722v: per night and cumulative") {
  const auto map = Skymap::from_file((ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string());
  const SurveyPlan plan = parse_survey_plan(R"(
footprints:
  ztf: {polygon: [[-3.5, -3.45], [3.5, -3.45], [3.5, 3.45], [-3.5, 3.45]]}
pointings:
  - {ra: 98.35, dec: -27.45, time: "2022-07-23T03:00:00", footprint: ztf}
  - {ra: 105.0, dec: -27.45, time: "2022-07-23T03:30:00", footprint: ztf}
  - {ra: 98.35, dec: -20.5, time: "2022-07-24T03:00:00", footprint: ztf}
  - {ra: 98.35, dec: -27.45, time: "2022-07-24T04:00:00", footprint: ztf}
)", "plan.yaml");
  const auto nights = survey_coverage(map, plan);
  REQUIRE(nights.size() == 2);
  CHECK(nights[0].probability > 0.01);
  CHECK(nights[1].cumulative_probability > nights[0].cumulative_probability);
  CHECK(nights[1].cumulative_probability < nights[0].probability + nights[1].probability);  // overlap once
  CHECK(nights[1].cumulative_area_90_deg2 <= map.credible_area(0.9) + 1);
  CHECK(nights[0].area_90_deg2 <= 2 * 7 * 6.9 + 1);
  // On a grid coarser than the map (order 7 < 9) the region is taken at that order too.
  CoverageOptions coarse;
  coarse.order = 7;
  const auto coarse_nights = survey_coverage(map, plan, {}, coarse);
  CHECK(coarse_nights[0].area_90_deg2 == doctest::Approx(nights[0].area_90_deg2).epsilon(0.1));
  CHECK(coarse_nights[0].probability == doctest::Approx(nights[0].probability).epsilon(0.1));
}

TEST_CASE("survey plans: faults name the place") {
  CHECK_THROWS_WITH_AS(parse_survey_plan("footprints: {a: {radius: 1}}\npointings: [{ra: 1, dec: 2, footprint: a}]", "p.yaml"),
                       doctest::Contains("needs 'time'"), ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_survey_plan("footprints: {a: {radius: 1}}\npointings: [{ra: 1, dec: 2, mjd: 5, footprint: b}]", "p.yaml"),
                       doctest::Contains("unknown footprint 'b'"), ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_survey_plan("footprints: {a: {polygon: [[0, 0], [2, 0], [1, 0.2], [2, 2], [0, 2]]}}\npointings: []", "p.yaml"),
                       doctest::Contains("not convex"), ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_survey_plan("footprints: {a: {radius: 1}}\npointings: [{ra: 1, dec: 95, mjd: 5, footprint: a}]", "p.yaml"),
                       doctest::Contains("p.yaml:2:pointing 1"), ebs::Fault);
  CHECK_THROWS_WITH_AS(parse_survey_plan("footprint: {}\n", "p.yaml"), doctest::Contains("unknown key 'footprint'"), ebs::Fault);
}
