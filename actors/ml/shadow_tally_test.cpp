#include "actors/ml/shadow_tally.h"

#include <doctest/doctest.h>

#include <cmath>

#include "actors/ml/model_registry.h"
#include "test/support/ml_oracle.h"

using namespace ebs::ml;

namespace {
ShadowTally empty_tally() {
  ShadowTally t;
  t.name = "sn";
  t.shadow_reference = "registry://sn@2";
  t.production_reference = "registry://sn@1";
  return t;
}
}  // namespace

TEST_CASE("shadow tally: agreement at the threshold, differences, correlation, histograms; merging adds up") {
  ShadowTally t = empty_tally();
  // (production, shadow): agree, agree, production only, shadow only.
  t.add(0.9, 0.8);
  t.add(0.1, 0.2);
  t.add(0.6, 0.4);
  t.add(0.3, 0.55);
  nlohmann::json s = t.summary();
  CHECK(s["count"] == 4);
  CHECK(s["agreement"].get<double>() == doctest::Approx(0.5));
  CHECK(s["both_positive"] == 1);
  CHECK(s["production_only_positive"] == 1);
  CHECK(s["shadow_only_positive"] == 1);
  CHECK(s["mean_abs_diff"].get<double>() == doctest::Approx((0.1 + 0.1 + 0.2 + 0.25) / 4));
  CHECK(s["max_abs_diff"].get<double>() == doctest::Approx(0.25));
  CHECK(s["production_histogram"] == nlohmann::json({0, 1, 0, 1, 0, 0, 1, 0, 0, 1}));
  CHECK(s["shadow_histogram"] == nlohmann::json({0, 0, 1, 0, 1, 1, 0, 0, 1, 0}));
  // Pearson correlation of the four pairs, by hand: mean p = 0.475, mean s = 0.4875.
  double cov = 0, vp = 0, vs = 0;
  double p[] = {0.9, 0.1, 0.6, 0.3}, q[] = {0.8, 0.2, 0.4, 0.55};
  for (int i = 0; i < 4; ++i) {
    cov += (p[i] - 0.475) * (q[i] - 0.4875);
    vp += (p[i] - 0.475) * (p[i] - 0.475);
    vs += (q[i] - 0.4875) * (q[i] - 0.4875);
  }
  CHECK(s["correlation"].get<double>() == doctest::Approx(cov / std::sqrt(vp * vs)));

  ShadowTally a = empty_tally(), b = empty_tally();
  a.add(0.9, 0.8);
  a.add(0.1, 0.2);
  b.add(0.6, 0.4);
  b.add(0.3, 0.55);
  a.merge(ShadowTally::from_json(b.to_json()));  // through storage
  nlohmann::json merged = a.summary();
  for (const char* exact : {"count", "both_positive", "production_only_positive", "shadow_only_positive",
                            "production_histogram", "shadow_histogram", "agreement"})
    CHECK(merged[exact] == s[exact]);
  for (const char* sum : {"mean_abs_diff", "max_abs_diff", "correlation", "production_mean", "shadow_mean"})
    CHECK(merged[sum].get<double>() == doctest::Approx(s[sum].get<double>()));

  ShadowTally other = empty_tally();
  other.threshold = 0.7;
  CHECK_THROWS_AS(a.merge(other), ebs::Fault);
  a.clear_counts();
  CHECK(a.count == 0);
  CHECK(a.summary()["agreement"].is_null());
}

TEST_CASE("shadow results in the registry merge per model pair, whatever the number of flushes") {
  ebs::ml::testing::TempDir dir;
  ModelRegistry r(dir / "models.sqlite");
  ShadowTally t = empty_tally();
  t.add(0.9, 0.8);
  r.add_shadow_tally(t, "score");
  t.clear_counts();
  t.add(0.2, 0.7);
  r.add_shadow_tally(t, "score");
  ShadowTally other = empty_tally();
  other.name = "agn";
  other.shadow_reference = "registry://agn@4";
  other.add(0.5, 0.5);
  r.add_shadow_tally(other, "score");
  std::vector<ShadowTally> sn = r.shadow_tallies("sn");
  REQUIRE(sn.size() == 1);
  CHECK(sn[0].count == 2);
  CHECK(sn[0].agree == 1);
  CHECK(r.shadow_tallies().size() == 2);
}
