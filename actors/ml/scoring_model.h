// What the scorers ask of a model, whatever its kind: XGBoost boosters (xgboost_model.h),
// TorchScript modules (torch_model.h) and isolation forests (isolation_forest.h). A model scores
// rows of floats, one row per alert, laid out as its declared input says (model_inputs.h), and
// gives one score per row. One path scores, annotates and shadow-tallies every kind
// (ml_actors.cpp), so a TorchScript shadow runs beside an XGBoost production model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::ml {

class ScoringModel {
 public:
  virtual ~ScoringModel() = default;
  // The registry's format column: "json" or "ubj" (XGBoost), "pt" (TorchScript), "iforest".
  virtual std::string format() const = 0;
  // FNV-1a 64 (hex) of the bytes the model was loaded from.
  virtual const std::string& content_hash() const = 0;
  // Column names the model was trained on (XGBoost, isolation forest); empty for TorchScript.
  virtual std::vector<std::string> input_names() const { return {}; }
  // The input the model declares itself (a TorchScript module's `ebs_inputs` attribute), or empty.
  virtual std::string declared_inputs() const { return {}; }
  // How many floats one row holds.
  virtual size_t input_width() const = 0;
  // Scores `rows` rows of input_width() floats (row-major) into `out`. Not thread-safe: each
  // scorer instance loads its own model.
  virtual void predict(const float* input, size_t rows, float* out) const = 0;

  // All rows of a whole matrix (a Fault when it is not a whole number of rows).
  std::vector<float> score_rows(const std::vector<float>& input) const;
};

// Sniffs the bytes' kind and loads them: a zip archive is TorchScript (torch.jit.save), a JSON
// object with "isolation_forest" an isolation forest, anything else XGBoost (JSON or UBJSON).
// `origin` names the model in faults.
std::unique_ptr<ScoringModel> load_scoring_model(std::string_view bytes, const std::string& origin);

// Whether `bytes` are a TorchScript archive (torch.jit.save writes a zip file).
bool is_torchscript(std::string_view bytes);

// Whether this build can load TorchScript models (EBS_TORCH, on by default).
bool torchscript_available();

}  // namespace ebs::ml
