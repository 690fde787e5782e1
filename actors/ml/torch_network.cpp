// The ebs_torch module: TorchScript through libtorch, behind torch_network.h.
#include "actors/ml/torch_network.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <mutex>
#include <sstream>

namespace ebs::ml {

namespace {

// libtorch's thread pools are per process and their sizes can be set once, before first use:
// one intra-op and one inter-op thread, so that each torch-score instance (a detached actor with
// its own thread) computes on that thread alone and the instances are the parallelism.
void use_one_thread() {
  static std::once_flag once;
  std::call_once(once, [] {
    at::set_num_threads(1);
    try {
      at::set_num_interop_threads(1);
    } catch (const c10::Error&) {
      // Already fixed by an earlier inter-op use in this process: the size it has is the one to keep.
    }
  });
}

class LibtorchNetwork final : public TorchNetwork {
 public:
  explicit LibtorchNetwork(torch::jit::Module module) : module_(std::move(module)) {}

  std::string declared_inputs() const override { return declared_inputs_; }

  // A Fault-free load: the caller names the model in what it reports.
  static std::string load(const char* bytes, size_t size, std::unique_ptr<LibtorchNetwork>& network) {
    try {
      std::istringstream in{std::string(bytes, size)};
      network = std::make_unique<LibtorchNetwork>(torch::jit::load(in, torch::kCPU));
      network->module_.eval();
    } catch (const c10::Error& e) {
      return std::string("not a TorchScript model (torch.jit.save): ") + e.what_without_backtrace();
    }
    if (network->module_.hasattr("ebs_inputs")) {
      c10::IValue value = network->module_.attr("ebs_inputs");
      if (!value.isString()) return "the module's ebs_inputs attribute is not a string";
      network->declared_inputs_ = value.toStringRef();
    }
    // Frozen (weights as constants) and optimised for inference, as Python's
    // torch.jit.optimize_for_inference does: convolutions then run on oneDNN, ~8x faster on one
    // thread for the stamp CNN. A module that cannot be frozen is run as it is.
    try {
      torch::jit::Module frozen = torch::jit::freeze(network->module_);
      network->module_ = torch::jit::optimize_for_inference(frozen);
    } catch (const c10::Error&) {
    }
    return {};
  }

  std::string forward(const float* input, size_t rows, size_t width, const std::vector<std::vector<int64_t>>& tensors,
                      float* out) override {
    c10::InferenceMode inference;
    std::vector<c10::IValue> arguments;
    // Each tensor is a strided view of the row-major batch: no copy. from_blob does not own the
    // memory, and the module does not keep its inputs.
    int64_t offset = 0;
    for (const std::vector<int64_t>& shape : tensors) {
      std::vector<int64_t> sizes{static_cast<int64_t>(rows)};
      sizes.insert(sizes.end(), shape.begin(), shape.end());
      std::vector<int64_t> strides(sizes.size());
      int64_t stride = 1;
      for (size_t d = sizes.size(); d-- > 1;) {
        strides[d] = stride;
        stride *= sizes[d];
      }
      strides[0] = static_cast<int64_t>(width);
      arguments.emplace_back(torch::from_blob(const_cast<float*>(input) + offset, sizes, strides, torch::kFloat32));
      offset += stride;
    }
    torch::Tensor result;
    try {
      c10::IValue value = module_.forward(arguments);
      if (!value.isTensor()) return "forward() returned something other than a tensor";
      result = value.toTensor().to(torch::kFloat32).contiguous();
    } catch (const c10::Error& e) {
      return std::string("forward() failed: ") + e.what_without_backtrace();
    }
    if (result.numel() != static_cast<int64_t>(rows))
      return "forward() gave " + std::to_string(result.numel()) + " values for " + std::to_string(rows) +
             " rows; only models with one score per alert are supported";
    std::copy(result.data_ptr<float>(), result.data_ptr<float>() + rows, out);
    return {};
  }

 private:
  torch::jit::Module module_;
  std::string declared_inputs_;
};

}  // namespace

}  // namespace ebs::ml

extern "C" ebs::ml::TorchNetwork* ebs_torch_load_network(const char* bytes, size_t size, std::string* error) {
  try {
    ebs::ml::use_one_thread();
    std::unique_ptr<ebs::ml::LibtorchNetwork> network;
    *error = ebs::ml::LibtorchNetwork::load(bytes, size, network);
    if (!error->empty()) return nullptr;
    return network.release();
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
