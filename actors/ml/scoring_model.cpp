#include "actors/ml/scoring_model.h"

#include "actors/ml/isolation_forest.h"
#include "actors/ml/xgboost_model.h"
#include "engine/util/fault.h"
#ifdef EBS_WITH_TORCH
#include "actors/ml/torch_model.h"
#endif

namespace ebs::ml {

bool is_torchscript(std::string_view bytes) { return bytes.starts_with(std::string_view("PK\x03\x04", 4)); }

std::vector<float> ScoringModel::score_rows(const std::vector<float>& input) const {
  const size_t width = input_width();
  if (width == 0 || input.size() % width != 0)
    fail("model " + content_hash(), "input matrix is not a whole number of rows of " + std::to_string(width));
  std::vector<float> out(input.size() / width);
  predict(input.data(), out.size(), out.data());
  return out;
}

bool torchscript_available() {
#ifdef EBS_WITH_TORCH
  return true;
#else
  return false;
#endif
}

std::unique_ptr<ScoringModel> load_scoring_model(std::string_view bytes, const std::string& origin) {
  if (is_torchscript(bytes)) {
#ifdef EBS_WITH_TORCH
    return TorchModel::from_bytes(bytes, origin);
#else
    fail(origin, "a TorchScript model, and this ebs-flow was built without libtorch (EBS_TORCH=OFF)");
#endif
  }
  if (IsolationForest::recognises(bytes)) return std::make_unique<IsolationForest>(IsolationForest::from_bytes(bytes, origin));
  return std::make_unique<XgboostModel>(XgboostModel::from_bytes(bytes, origin));
}

}  // namespace ebs::ml
