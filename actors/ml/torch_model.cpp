#include "actors/ml/torch_model.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::ml {

namespace {

// Where ebs_torch is: $EBS_TORCH_MODULE, or beside the running executable (the build puts it
// next to ebs-flow).
std::string torch_module_path() {
  if (const char* path = std::getenv("EBS_TORCH_MODULE"); path && *path) return path;
  std::error_code ec;
  std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (executable.parent_path() / "ebs_torch.so").string();
}

}  // namespace

// RTLD_NODELETE: libtorch's thread pools outlive any one model, so the library is never unmapped;
// dlclose only drops the reference.
struct TorchModel::Library {
  void* handle = nullptr;
  ebs::ml::TorchNetwork* (*load_network)(const char*, size_t, std::string*) = nullptr;
  ~Library() {
    if (handle) dlclose(handle);
  }
};

TorchModel::~TorchModel() = default;

std::unique_ptr<TorchModel> TorchModel::from_bytes(std::string_view bytes, std::string origin) {
  std::unique_ptr<TorchModel> m(new TorchModel());
  m->origin_ = std::move(origin);
  m->content_hash_ = hex64(fnv1a64(bytes));
  const std::string path = torch_module_path();
  m->library_ = std::make_shared<Library>();
  m->library_->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!m->library_->handle)
    fail(m->origin_, "torch-score needs " + path + ": built with EBS_TORCH=ON? (" + dlerror() + ")");
  m->library_->load_network = reinterpret_cast<decltype(Library::load_network)>(
      dlsym(m->library_->handle, EBS_TORCH_LOAD_NETWORK_SYMBOL));
  if (!m->library_->load_network) fail(m->origin_, path + " is not the ebs_torch module (no " EBS_TORCH_LOAD_NETWORK_SYMBOL ")");
  std::string error;
  m->network_.reset(m->library_->load_network(bytes.data(), bytes.size(), &error));
  if (!m->network_) fail(m->origin_, error);
  m->declared_inputs_ = m->network_->declared_inputs();
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
  std::string error = network_->forward(input, rows, layout_.width, layout_.tensors, out);
  if (!error.empty()) fail(origin_, "on " + layout_.declaration + " input: " + error);
}

}  // namespace ebs::ml
