// An XGBoost booster through the C API: loaded from the JSON or UBJSON bytes that Python's
// xgboost (or `ebs-flow model train`) writes, trained from a labelled set, saved, and asked for
// batch predictions. One model per thread: XGBoost boosters keep prediction caches, so each
// scorer instance loads its own (nthread = 1).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "actors/ml/scoring_model.h"

namespace ebs::ml {

struct TrainParameters {
  size_t rounds = 100;     // trees
  int max_depth = 6;
  double eta = 0.3;
  double subsample = 1;
  int seed = 0;
  int threads = 1;
};

class XgboostModel final : public ScoringModel {
 public:
  // Loads model bytes; `origin` names them in errors (the file path, registry://name@v).
  // A Fault (failed) naming `origin` for corrupt bytes or a model with several outputs per row.
  static XgboostModel from_bytes(std::string_view bytes, std::string origin);
  // Reads and loads a file; a Fault naming the file when it is missing or corrupt.
  static XgboostModel from_file(const std::string& path);
  // Binary logistic training on row-major `features` (rows x names.size(), NaN = missing) with
  // labels 0/1. The model records `names` as its feature_names.
  static XgboostModel train(const std::vector<float>& features, const std::vector<float>& labels,
                            const std::vector<std::string>& names, const TrainParameters& parameters);

  XgboostModel(XgboostModel&& other) noexcept;
  XgboostModel& operator=(XgboostModel&& other) noexcept;
  XgboostModel(const XgboostModel&) = delete;
  XgboostModel& operator=(const XgboostModel&) = delete;
  ~XgboostModel() override;

  const std::string& origin() const { return origin_; }
  // Stable content hash (FNV-1a 64, hex) of the bytes it was loaded from or saved as (JSON).
  const std::string& content_hash() const override { return content_hash_; }
  std::string format() const override { return format_; }
  std::vector<std::string> input_names() const override { return feature_names_; }
  size_t input_width() const override { return feature_count_; }
  // The model's feature_names (empty when it was trained without names).
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  size_t feature_count() const { return feature_count_; }
  size_t tree_count() const;
  // A booster attribute (Python: Booster.set_attr), empty when unset.
  std::string attribute(const std::string& key) const;

  // Scores `rows` rows of feature_count() values each (row-major; NaN = missing) into `out`.
  void predict(const float* features, size_t rows, float* out) const override;
  std::vector<float> predict(const std::vector<float>& features) const;

  // "json" or "ubj".
  std::string save(std::string_view format) const;

 private:
  XgboostModel() = default;
  void describe();  // reads feature names and count, checks for a single output
  void* booster_ = nullptr;
  std::string origin_;
  std::string content_hash_;
  std::string format_ = "json";  // of the bytes it was loaded from: json or ubj
  std::vector<std::string> feature_names_;
  size_t feature_count_ = 0;
};

}  // namespace ebs::ml
