// The boundary between ebs-flow and the ebs_torch module (torch_network.cpp, the only unit that
// includes torch headers). libtorch's static initialisers take seconds, so ebs-flow does not link
// it: torch_model.cpp dlopens the module the first time a TorchScript model is loaded, and calls
// it through this interface. No exception crosses the boundary: the module reports failures as
// messages and the caller turns them into Faults naming the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ebs::ml {

// One loaded TorchScript module, run on CPU in inference mode on the calling thread.
class TorchNetwork {
 public:
  virtual ~TorchNetwork() = default;
  // The module's `ebs_inputs` string attribute, or empty.
  virtual std::string declared_inputs() const = 0;
  // Runs forward() on `rows` row-major rows of `width` floats, cut into one tensor per entry of
  // `tensors` (each (rows, shape...)), and writes one score per row into `out`. Empty on success,
  // otherwise what went wrong.
  virtual std::string forward(const float* input, size_t rows, size_t width,
                              const std::vector<std::vector<int64_t>>& tensors, float* out) = 0;
};

}  // namespace ebs::ml

// The module's entry point: the network in `bytes` (torch.jit.save's archive), or null with
// `*error` saying why.
extern "C" ebs::ml::TorchNetwork* ebs_torch_load_network(const char* bytes, size_t size, std::string* error);
#define EBS_TORCH_LOAD_NETWORK_SYMBOL "ebs_torch_load_network"
