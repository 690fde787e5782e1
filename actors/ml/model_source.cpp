#include "actors/ml/model_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/ml/model_registry.h"
#include "actors/ml/xgboost_model.h"
#ifdef EBS_WITH_TORCH
#include "actors/ml/torch_model.h"
#endif
#include "engine/util/fault.h"

namespace ebs::ml {

namespace {

constexpr std::string_view kScheme = "registry://";

std::string read_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the model file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::string bind_declared_input(ScoringModel& model, const std::string& registered, const std::string& origin) {
  if (model.format() != "pt") return {};
  std::string inputs = registered.empty() ? model.declared_inputs() : registered;
  if (inputs.empty())
    fail(origin, "a TorchScript model needs a declared input (register it with --feature-set cutouts/N, "
                 "lightcurve/N or a feature set, or give the module an `ebs_inputs` attribute)");
#ifdef EBS_WITH_TORCH
  static_cast<TorchModel&>(model).bind(input_layout(inputs, origin));
#endif
  return inputs;
}

bool is_registry_reference(const std::string& reference) { return reference.rfind(kScheme, 0) == 0; }

LoadedModel load_model(const std::string& reference, const std::string& registry_path, const std::string& base_dir) {
  if (!is_registry_reference(reference)) {
    std::filesystem::path path(reference);
    if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
    std::unique_ptr<ScoringModel> model = load_scoring_model(read_model_file(path.string()), path.string());
    std::string version;
    if (auto* booster = dynamic_cast<const XgboostModel*>(model.get())) version = booster->attribute("version");
    std::vector<std::string> names = model->input_names();
    std::string inputs = bind_declared_input(*model, "", path.string());
    return {std::move(model), path.stem().string(), version.empty() ? "unversioned" : version, "", std::move(names),
            path.string(), "", std::move(inputs)};
  }
  std::string spec = reference.substr(kScheme.size());
  std::string name = spec;
  int64_t version = 0;
  std::string state = "production";  // or "candidate": the newest candidate version
  if (auto at = spec.find('@'); at != std::string::npos) {
    name = spec.substr(0, at);
    std::string after = spec.substr(at + 1);
    if (after == "production" || after == "candidate") state = after;
    else try {
      size_t used = 0;
      version = std::stoll(spec.substr(at + 1), &used);
      if (used != spec.size() - at - 1 || version <= 0) throw std::invalid_argument("version");
    } catch (const std::exception&) {
      fail(reference, "after '@' comes a version (a positive integer), 'production' or 'candidate'");
    }
  }
  if (name.empty()) fail(reference, "no model name after registry://");
  if (registry_path.empty()) fail(reference, "a registry:// model needs a registry file (config key `registry`)");
  if (!std::filesystem::exists(registry_path)) fail(registry_path, "no model registry file");
  ModelRegistry registry(registry_path);
  std::optional<ModelEntry> entry;
  if (version) {
    entry = registry.find(name, version);
  } else if (state == "production") {
    entry = registry.production(name);
  } else {
    for (const ModelEntry& e : registry.list(name))
      if (e.state == ModelState::candidate) entry = e;  // list is by version: the newest wins
  }
  if (!entry)
    fail(registry_path + ":" + spec, version ? "no such model version in the registry"
                                             : "no " + state + " version of this model" +
                                                   (state == "production" ? " (promote one first)" : ""));
  std::unique_ptr<ScoringModel> model =
      load_scoring_model(registry.bytes(entry->name, entry->version), entry->reference());
  if (model->content_hash() != entry->content_hash)
    fail(entry->reference(), "content hash " + model->content_hash() + " differs from the registered " +
                                 entry->content_hash);
  std::vector<std::string> names = model->input_names().empty() ? entry->feature_names : model->input_names();
  std::string inputs = bind_declared_input(*model, entry->feature_set, entry->reference());
  return {std::move(model), entry->name, std::to_string(entry->version), entry->feature_set, std::move(names),
          entry->reference(), std::string(to_string(entry->state)), std::move(inputs)};
}

}  // namespace ebs::ml
