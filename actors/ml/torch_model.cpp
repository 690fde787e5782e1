#include "actors/ml/torch_model.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <mutex>
#include <sstream>

#include "engine/util/fault.h"
#include "engine/util/hash.h"

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
      // Already fixed by an earlier inter-op use in this process (a test loading Python's
      // models, say): the size it has is the one to keep.
    }
  });
}

}  // namespace

struct TorchModel::Module {
  torch::jit::script::Module module;
};

TorchModel::~TorchModel() = default;

std::unique_ptr<TorchModel> TorchModel::from_bytes(std::string_view bytes, std::string origin) {
  use_one_thread();
  std::unique_ptr<TorchModel> m(new TorchModel());
  m->origin_ = std::move(origin);
  m->content_hash_ = hex64(fnv1a64(bytes));
  try {
    std::istringstream in{std::string(bytes)};
    m->module_ = std::make_unique<Module>(Module{torch::jit::load(in, torch::kCPU)});
    m->module_->module.eval();
  } catch (const c10::Error& e) {
    fail(m->origin_, std::string("not a TorchScript model (torch.jit.save): ") + e.what_without_backtrace());
  }
  if (m->module_->module.hasattr("ebs_inputs")) {
    c10::IValue value = m->module_->module.attr("ebs_inputs");
    if (!value.isString()) fail(m->origin_, "the module's ebs_inputs attribute is not a string");
    m->declared_inputs_ = value.toStringRef();
  }
  // Frozen (weights as constants) and optimised for inference, as Python's
  // torch.jit.optimize_for_inference does: convolutions then run on oneDNN, ~8x faster on one
  // thread for the stamp CNN. A module that cannot be frozen is run as it is.
  try {
    torch::jit::Module frozen = torch::jit::freeze(m->module_->module);
    m->module_->module = torch::jit::optimize_for_inference(frozen);
  } catch (const c10::Error&) {
  }
  return m;
}

void TorchModel::bind(const InputLayout& layout) {
  layout_ = layout;
  std::vector<float> zeros(layout_.width, 0.0f);
  float score = 0;
  predict(zeros.data(), 1, &score);
}

void TorchModel::predict(const float* input, size_t rows, float* out) const {
  if (rows == 0) return;
  if (layout_.tensors.empty()) fail(origin_, "the model was not told its input layout");
  c10::InferenceMode inference;
  std::vector<c10::IValue> arguments;
  // Each tensor is a strided view of the row-major batch: no copy. from_blob does not own the
  // memory, and the module does not keep its inputs.
  int64_t offset = 0;
  const int64_t width = static_cast<int64_t>(layout_.width);
  for (const std::vector<int64_t>& shape : layout_.tensors) {
    std::vector<int64_t> sizes{static_cast<int64_t>(rows)};
    sizes.insert(sizes.end(), shape.begin(), shape.end());
    std::vector<int64_t> strides(sizes.size());
    int64_t stride = 1;
    for (size_t d = sizes.size(); d-- > 1;) {
      strides[d] = stride;
      stride *= sizes[d];
    }
    strides[0] = width;
    arguments.emplace_back(torch::from_blob(const_cast<float*>(input) + offset, sizes, strides, torch::kFloat32));
    offset += stride;
  }
  torch::Tensor result;
  try {
    c10::IValue value = module_->module.forward(arguments);
    if (!value.isTensor()) fail(origin_, "forward() returned something other than a tensor");
    result = value.toTensor().to(torch::kFloat32).contiguous();
  } catch (const c10::Error& e) {
    fail(origin_, "forward() failed on " + layout_.declaration + " input: " + e.what_without_backtrace());
  }
  if (result.numel() != static_cast<int64_t>(rows))
    fail(origin_, "forward() gave " + std::to_string(result.numel()) + " values for " + std::to_string(rows) +
                      " rows; only models with one score per alert are supported");
  std::copy(result.data_ptr<float>(), result.data_ptr<float>() + rows, out);
}

}  // namespace ebs::ml
