// Evaluation of a binary scorer on a labelled set: ROC AUC (ties share their average rank),
// precision, recall and the confusion matrix at a threshold (score >= threshold is positive).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace ebs::ml {

struct BinaryMetrics {
  size_t count = 0;
  size_t positives = 0;
  double roc_auc = NAN;    // NaN when one class is absent
  double threshold = 0.5;
  double precision = NAN;  // NaN when nothing is predicted positive
  double recall = NAN;     // NaN when there are no positives
  uint64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
};

BinaryMetrics evaluate_scores(const std::vector<float>& scores, const std::vector<float>& labels, double threshold);

// {"count", "positives", "roc_auc", "precision", "recall", "threshold", "confusion": {tp, fp, tn, fn}};
// NaN metrics are null.
nlohmann::json to_json(const BinaryMetrics& metrics);
// The named metric ("roc_auc", "precision", "recall"); a Fault for another name.
double metric_value(const BinaryMetrics& metrics, const std::string& name);

}  // namespace ebs::ml
