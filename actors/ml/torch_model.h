// A TorchScript module (saved by Python's torch.jit.save) run on CPU through libtorch. libtorch is
// not linked into ebs-flow (its static initialisers cost seconds at every start): the ebs_torch
// module (torch_network.h) is loaded the first time a TorchScript model is, from beside the
// executable or from $EBS_TORCH_MODULE. One module per scorer instance, evaluated in inference
// mode on the calling thread (libtorch's own intra- and inter-op pools are set to 1 thread: the
// detached torch-score instances are the parallelism, docs/ml.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "actors/ml/model_inputs.h"
#include "actors/ml/scoring_model.h"
#include "actors/ml/torch_network.h"

namespace ebs::ml {

class TorchModel final : public ScoringModel {
 public:
  // A Fault naming `origin` when the bytes are not a TorchScript archive, or when the ebs_torch
  // module cannot be loaded.
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
  // The dlopen handle of ebs_torch, kept open for as long as the network it made lives.
  struct Library;
  std::shared_ptr<Library> library_;
  std::unique_ptr<TorchNetwork> network_;
  std::string origin_, content_hash_, declared_inputs_;
  InputLayout layout_;
};

}  // namespace ebs::ml
