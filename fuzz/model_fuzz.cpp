// Model files as a scorer or `ebs-flow model register` reads them (actors/ml/scoring_model.h):
// XGBoost JSON or UBJSON, an isolation forest's JSON (TorchScript archives are libtorch's: this
// build has no libtorch). A model that loads is then asked for one score of a row of zeros and of
// NaNs, as a scorer's first batch would.
#include <cmath>
#include <vector>

#include "actors/ml/scoring_model.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  std::unique_ptr<ebs::ml::ScoringModel> model = ebs::ml::load_scoring_model(bytes, "fuzz input");
  const size_t width = model->input_width();
  if (width == 0 || width > 4096) return;  // a real scorer refuses such a model at its features
  std::vector<float> rows(2 * width, 0.0f), scores(2);
  for (size_t k = width; k < rows.size(); ++k) rows[k] = std::nanf("");
  model->predict(rows.data(), 2, scores.data());
}
