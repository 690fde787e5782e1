// Isolation forest (Liu, Ting and Zhou, "Isolation Forest", ICDM 2008): anomaly scores for feature
// vectors without labels. Each tree isolates a random subsample of `sample_size` rows (without
// replacement) by splitting on a uniformly chosen column at a uniform threshold between that
// column's smallest and largest value in the node, down to a height limit of ceil(log2
// sample_size) or a node that cannot be split (one row, or all rows equal). A row's path length in
// a tree is the number of edges to its leaf plus c(size of the leaf); its score is
//   s = 2^(-E[h] / c(sample_size)),  c(n) = 2 H(n-1) - 2 (n-1) / n,  H(i) = ln i + 0.5772156649,
// c(1) = 0: near 1 for anomalies, about 0.5 and below for ordinary rows, the same scale for every
// version trained with the same sample size (docs/ml.md). Missing values (NaN) are replaced by the
// column's training median (0 for a column never seen) before training and scoring.
// Seeded: the same rows, parameters and seed give the same trees on every machine (a 64-bit
// Mersenne Twister with its own uniform draws, not the library's distributions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/ml/scoring_model.h"

namespace ebs::ml {

struct IsolationForestParameters {
  size_t trees = 100;
  size_t sample_size = 256;  // rows per tree (all rows when fewer)
  uint64_t seed = 0;
};

class IsolationForest final : public ScoringModel {
 public:
  // Row-major `rows` (rows x names.size(), NaN = missing). A Fault for no rows or no columns.
  static IsolationForest train(const std::vector<float>& rows, const std::vector<std::string>& names,
                               const IsolationForestParameters& parameters);
  // The JSON that save() writes; a Fault naming `origin` for anything else.
  static IsolationForest from_bytes(std::string_view bytes, std::string origin);
  // Whether `bytes` look like a saved isolation forest (a JSON object with "isolation_forest").
  static bool recognises(std::string_view bytes);

  std::string format() const override { return "iforest"; }
  const std::string& content_hash() const override { return content_hash_; }
  std::vector<std::string> input_names() const override { return names_; }
  size_t input_width() const override { return names_.size(); }
  void predict(const float* input, size_t rows, float* out) const override;

  // {"isolation_forest": {"format_version": 1, "feature_names", "sample_size", "seed", "medians",
  //  "trees": [{"feature": [...], "threshold": [...], "left": [...], "right": [...], "size": [...]}]}}:
  // node 0 is the root; feature -1 marks a leaf holding `size` training rows; a row goes left when
  // its value < threshold.
  std::string save() const;
  size_t tree_count() const { return trees_.size(); }
  size_t sample_size() const { return sample_size_; }

  // c(n) above: the average path length of an unsuccessful binary-search-tree search among n rows.
  static double average_path_length(double n);

 private:
  struct Tree {
    std::vector<int32_t> feature, left, right;
    std::vector<float> threshold;
    std::vector<uint32_t> size;
  };
  // What scoring walks: every tree's nodes packed side by side (16 bytes, four to a cache line),
  // children as absolute indices. A leaf holds its path length (depth + c(size)) in `value` and
  // is its own child on both sides, so that a walk of the tree's full depth ends on it whatever
  // the row: every row then takes the same number of steps, without a branch, and a block of rows
  // walks side by side (predict).
  struct Node {
    int32_t feature;   // a leaf: 0 (read, then ignored)
    float value;       // the threshold (a row goes left when its value < threshold), or a leaf's path length
    int32_t child[2];  // left, right
  };
  void finish();  // packed nodes, normaliser and content hash from the trees

  std::vector<std::string> names_;
  std::vector<float> medians_;
  std::vector<Tree> trees_;
  std::vector<Node> nodes_;
  std::vector<int32_t> roots_;
  std::vector<int32_t> depths_;  // per tree: its deepest leaf's depth
  size_t sample_size_ = 0;
  uint64_t seed_ = 0;
  double normaliser_ = 1;  // c(sample_size)
  std::string content_hash_;
};

}  // namespace ebs::ml
