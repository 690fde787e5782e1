#include "actors/ml/binary_metrics.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/util/fault.h"

using namespace ebs::ml;

TEST_CASE("ROC AUC, precision, recall and the confusion matrix") {
  // Positives at 0.9, 0.8, 0.4; negatives at 0.7, 0.3, 0.2, 0.1: 11 of 12 pairs ordered right.
  std::vector<float> scores{0.9f, 0.8f, 0.4f, 0.7f, 0.3f, 0.2f, 0.1f};
  std::vector<float> labels{1, 1, 1, 0, 0, 0, 0};
  BinaryMetrics m = evaluate_scores(scores, labels, 0.5);
  CHECK(m.roc_auc == doctest::Approx(11.0 / 12));
  CHECK(m.true_positives == 2);
  CHECK(m.false_positives == 1);
  CHECK(m.true_negatives == 3);
  CHECK(m.false_negatives == 1);
  CHECK(m.precision == doctest::Approx(2.0 / 3));
  CHECK(m.recall == doctest::Approx(2.0 / 3));
  CHECK(metric_value(m, "roc_auc") == m.roc_auc);
  CHECK_THROWS_AS(metric_value(m, "f1"), ebs::Fault);
  auto j = to_json(m);
  CHECK(j["confusion"]["fn"] == 1);
  CHECK(j["count"] == 7);
}

TEST_CASE("ties share ranks; one class only gives no AUC") {
  CHECK(evaluate_scores({0.5f, 0.5f}, {1, 0}, 0.5).roc_auc == doctest::Approx(0.5));
  BinaryMetrics only = evaluate_scores({0.1f, 0.2f}, {0, 0}, 0.5);
  CHECK(std::isnan(only.roc_auc));
  CHECK(std::isnan(only.precision));
  CHECK(std::isnan(only.recall));
  CHECK(to_json(only)["roc_auc"].is_null());
}
