// The consensus rule: a weighted mean of several classifiers' class distributions.
//
//   p(c) = sum_i w_i p_i(c) / sum_i w_i
//
// over the inputs i present for the alert with w_i > 0; a class an input does not list counts as
// p_i(c) = 0 for it. Weights by "<broker>/<classifier>", else by "<broker>", else the default.
// With every input normalised (sum 1), so is the result.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "actors/exchange/class_map.h"

namespace ebs::exchange {

struct ConsensusRule {
  std::map<std::string, double> weights;  // "<broker>" or "<broker>/<classifier>" -> weight
  double default_weight = 1.0;
  double weight_of(const ClassifierOutput& input) const;
};

struct ConsensusInput {
  std::string name;  // "<broker>/<classifier>"
  double weight = 0;
};

struct ConsensusResult {
  std::vector<ClassProbability> classes;  // by class id
  std::vector<ConsensusInput> used;       // weight > 0
  std::vector<ConsensusInput> ignored;    // weight 0
};

ConsensusResult combine(const std::vector<ClassifierOutput>& inputs, const ConsensusRule& rule);

}  // namespace ebs::exchange
