// A TorchScript module (saved by Python's torch.jit.save) run on CPU through libtorch: the only
// unit that includes torch headers (slow to compile). One module per scorer instance, evaluated
// in inference mode on the calling thread (libtorch's own intra- and inter-op pools are set to 1
// thread: the detached torch-score instances are the parallelism, docs/ml.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "actors/ml/model_inputs.h"
#include "actors/ml/scoring_model.h"

namespace ebs::ml {

class TorchModel final : public ScoringModel {
 public:
  // A Fault naming `origin` when the bytes are not a TorchScript archive.
  static std::unique_ptr<TorchModel> from_bytes(std::string_view bytes, std::string origin);
  ~TorchModel() override;

  std::string format() const override { return "pt"; }
  const std::string& content_hash() const override { return content_hash_; }
  // The module's `ebs_inputs` string attribute (models/train_models.py sets it), or empty.
  std::string declared_inputs() const override { return declared_inputs_; }
  size_t input_width() const override { return layout_.width; }
  // Which tensors forward() gets: one per layout tensor, each (rows, shape...). Scoring needs it;
  // a Fault naming the model when one row of zeros does not give one score.
  void bind(const InputLayout& layout);
  void predict(const float* input, size_t rows, float* out) const override;

 private:
  TorchModel() = default;
  struct Module;
  std::unique_ptr<Module> module_;
  std::string origin_, content_hash_, declared_inputs_;
  InputLayout layout_;
};

}  // namespace ebs::ml
