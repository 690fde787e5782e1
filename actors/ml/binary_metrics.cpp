#include "actors/ml/binary_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/util/fault.h"

namespace ebs::ml {

BinaryMetrics evaluate_scores(const std::vector<float>& scores, const std::vector<float>& labels, double threshold) {
  if (scores.size() != labels.size()) fail("evaluate", "scores and labels differ in count");
  BinaryMetrics m;
  m.count = scores.size();
  m.threshold = threshold;
  for (size_t i = 0; i < scores.size(); ++i) {
    bool positive = labels[i] > 0.5;
    bool predicted = scores[i] >= threshold;
    m.positives += positive;
    if (positive && predicted) ++m.true_positives;
    if (!positive && predicted) ++m.false_positives;
    if (!positive && !predicted) ++m.true_negatives;
    if (positive && !predicted) ++m.false_negatives;
  }
  if (m.true_positives + m.false_positives > 0)
    m.precision = static_cast<double>(m.true_positives) / static_cast<double>(m.true_positives + m.false_positives);
  if (m.positives > 0) m.recall = static_cast<double>(m.true_positives) / static_cast<double>(m.positives);

  // AUC = (sum of the positives' ranks - P(P+1)/2) / (P N), ranks averaged over ties.
  size_t n = scores.size(), negatives = n - m.positives;
  if (m.positives > 0 && negatives > 0) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && scores[order[j]] == scores[order[i]]) ++j;
      double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
      for (size_t k = i; k < j; ++k)
        if (labels[order[k]] > 0.5) rank_sum += average_rank;
      i = j;
    }
    auto p = static_cast<double>(m.positives);
    m.roc_auc = (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
  }
  return m;
}

nlohmann::json to_json(const BinaryMetrics& m) {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"count", m.count},
          {"positives", m.positives},
          {"roc_auc", number(m.roc_auc)},
          {"threshold", m.threshold},
          {"precision", number(m.precision)},
          {"recall", number(m.recall)},
          {"confusion",
           {{"tp", m.true_positives}, {"fp", m.false_positives}, {"tn", m.true_negatives}, {"fn", m.false_negatives}}}};
}

double metric_value(const BinaryMetrics& m, const std::string& name) {
  if (name == "roc_auc") return m.roc_auc;
  if (name == "precision") return m.precision;
  if (name == "recall") return m.recall;
  fail("metric", "'" + name + "' is not a metric (roc_auc, precision, recall)");
}

}  // namespace ebs::ml
