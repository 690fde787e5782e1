#include "actors/ml/shadow_tally.h"

#include <algorithm>
#include <cmath>

#include "engine/util/fault.h"

namespace ebs::ml {

namespace {
size_t bin_of(double score) {
  if (!(score > 0)) return 0;  // NaN and scores below 0 land in the first bin
  return std::min<size_t>(9, static_cast<size_t>(score * 10));
}
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

void ShadowTally::add(double production, double shadow) {
  ++count;
  bool p = production >= threshold, s = shadow >= threshold;
  agree += p == s;
  both_positive += p && s;
  production_only += p && !s;
  shadow_only += s && !p;
  double d = std::abs(production - shadow);
  sum_abs_diff += d;
  max_abs_diff = std::max(max_abs_diff, d);
  sum_production += production;
  sum_shadow += shadow;
  sum_production2 += production * production;
  sum_shadow2 += shadow * shadow;
  sum_product += production * shadow;
  ++production_histogram[bin_of(production)];
  ++shadow_histogram[bin_of(shadow)];
}

void ShadowTally::merge(const ShadowTally& o) {
  if (o.shadow_reference != shadow_reference || o.production_reference != production_reference ||
      o.threshold != threshold)
    fail(shadow_reference, "cannot merge shadow tallies of different models or thresholds");
  count += o.count;
  agree += o.agree;
  both_positive += o.both_positive;
  production_only += o.production_only;
  shadow_only += o.shadow_only;
  sum_abs_diff += o.sum_abs_diff;
  max_abs_diff = std::max(max_abs_diff, o.max_abs_diff);
  sum_production += o.sum_production;
  sum_shadow += o.sum_shadow;
  sum_production2 += o.sum_production2;
  sum_shadow2 += o.sum_shadow2;
  sum_product += o.sum_product;
  for (size_t i = 0; i < 10; ++i) {
    production_histogram[i] += o.production_histogram[i];
    shadow_histogram[i] += o.shadow_histogram[i];
  }
}

void ShadowTally::clear_counts() {
  ShadowTally empty;
  empty.name = name;
  empty.shadow_reference = shadow_reference;
  empty.production_reference = production_reference;
  empty.threshold = threshold;
  *this = empty;
}

nlohmann::json ShadowTally::to_json() const {
  return {{"name", name},
          {"shadow", shadow_reference},
          {"production", production_reference},
          {"threshold", threshold},
          {"count", count},
          {"agree", agree},
          {"both_positive", both_positive},
          {"production_only", production_only},
          {"shadow_only", shadow_only},
          {"sum_abs_diff", sum_abs_diff},
          {"max_abs_diff", max_abs_diff},
          {"sum_production", sum_production},
          {"sum_shadow", sum_shadow},
          {"sum_production2", sum_production2},
          {"sum_shadow2", sum_shadow2},
          {"sum_product", sum_product},
          {"production_histogram", production_histogram},
          {"shadow_histogram", shadow_histogram}};
}

ShadowTally ShadowTally::from_json(const nlohmann::json& j) {
  ShadowTally t;
  t.name = j.at("name").get<std::string>();
  t.shadow_reference = j.at("shadow").get<std::string>();
  t.production_reference = j.at("production").get<std::string>();
  t.threshold = j.at("threshold").get<double>();
  t.count = j.at("count").get<uint64_t>();
  t.agree = j.at("agree").get<uint64_t>();
  t.both_positive = j.at("both_positive").get<uint64_t>();
  t.production_only = j.at("production_only").get<uint64_t>();
  t.shadow_only = j.at("shadow_only").get<uint64_t>();
  t.sum_abs_diff = j.at("sum_abs_diff").get<double>();
  t.max_abs_diff = j.at("max_abs_diff").get<double>();
  t.sum_production = j.at("sum_production").get<double>();
  t.sum_shadow = j.at("sum_shadow").get<double>();
  t.sum_production2 = j.at("sum_production2").get<double>();
  t.sum_shadow2 = j.at("sum_shadow2").get<double>();
  t.sum_product = j.at("sum_product").get<double>();
  t.production_histogram = j.at("production_histogram").get<std::array<uint64_t, 10>>();
  t.shadow_histogram = j.at("shadow_histogram").get<std::array<uint64_t, 10>>();
  return t;
}

nlohmann::json ShadowTally::summary() const {
  const double n = static_cast<double>(count);
  double correlation = NAN;
  if (count > 1) {
    double cov = sum_product / n - (sum_production / n) * (sum_shadow / n);
    double vp = sum_production2 / n - (sum_production / n) * (sum_production / n);
    double vs = sum_shadow2 / n - (sum_shadow / n) * (sum_shadow / n);
    if (vp > 0 && vs > 0) correlation = cov / std::sqrt(vp * vs);
  }
  return {{"name", name},
          {"shadow", shadow_reference},
          {"production", production_reference},
          {"threshold", threshold},
          {"count", count},
          {"agreement", count ? number_or_null(static_cast<double>(agree) / n) : nlohmann::json(nullptr)},
          {"both_positive", both_positive},
          {"production_only_positive", production_only},
          {"shadow_only_positive", shadow_only},
          {"mean_abs_diff", count ? number_or_null(sum_abs_diff / n) : nlohmann::json(nullptr)},
          {"max_abs_diff", max_abs_diff},
          {"correlation", number_or_null(correlation)},
          {"production_mean", count ? number_or_null(sum_production / n) : nlohmann::json(nullptr)},
          {"shadow_mean", count ? number_or_null(sum_shadow / n) : nlohmann::json(nullptr)},
          {"production_histogram", production_histogram},
          {"shadow_histogram", shadow_histogram}};
}

}  // namespace ebs::ml
