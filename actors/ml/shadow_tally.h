// Shadow scoring's live comparison: how a shadow (candidate) model's scores relate to the
// production model's on the same alerts. Every field adds up, so the tallies of several scorer
// instances and several flushes merge into one summary: counts, agreement at a threshold (both
// at or above it, or both below), mean and largest absolute difference, Pearson correlation,
// means and 10-bin histograms of both scores over [0, 1].
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ebs::ml {

struct ShadowTally {
  std::string name;                  // the shadow model's name
  std::string shadow_reference;      // registry://name@v or the file
  std::string production_reference;  // the model it runs beside
  double threshold = 0.5;
  uint64_t count = 0, agree = 0, both_positive = 0, production_only = 0, shadow_only = 0;
  double sum_abs_diff = 0, max_abs_diff = 0;
  double sum_production = 0, sum_shadow = 0, sum_production2 = 0, sum_shadow2 = 0, sum_product = 0;
  std::array<uint64_t, 10> production_histogram{}, shadow_histogram{};

  void add(double production, double shadow);
  // Adds `other`'s counts (same models and threshold; a Fault otherwise).
  void merge(const ShadowTally& other);
  void clear_counts();

  // The additive fields, for storage; from_json reads them back.
  nlohmann::json to_json() const;
  static ShadowTally from_json(const nlohmann::json& j);
  // count, agreement, ..., correlation (null when undefined), means, histograms.
  nlohmann::json summary() const;
};

}  // namespace ebs::ml
