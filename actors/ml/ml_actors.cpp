#include "actors/ml/ml_actors.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/runtime/actor_logic.h"

namespace ebs::ml {

namespace {

// Model files and the registry resolve relative to the workflow file's folder.
std::string workflow_dir(const ActorConfig& config) {
  return std::filesystem::path(config.file()).parent_path().string();
}

std::string registry_path(const ActorConfig& config) {
  if (!config.has("registry")) return {};
  std::string path = config.string("registry");
  if (path.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_relative() && !workflow_dir(config).empty()) p = std::filesystem::path(workflow_dir(config)) / p;
  return p.string();
}

const FeatureSet& feature_set_of(const ActorConfig& config) {
  std::string name = config.string("features");
  const FeatureSet* set = find_feature_set(name);
  if (!set) {
    std::string known;
    for (const std::string& n : feature_set_names()) known += (known.empty() ? "" : ", ") + n;
    fail(config.place("features"), "unknown feature set '" + name + "' (known: " + known + ")");
  }
  return *set;
}

class FeaturesLogic final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    extractor_ = std::make_unique<FeatureExtractor>(feature_set_of(context.config));
    provenance_ = {context.actor_id, context.type_name, context.type_version, context.config.hash()};
    values_.resize(extractor_->size());
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      if (std::string reason = unscorable_reason(alert.core()); !reason.empty()) {
        out.failed(batch.record(i), Fault(FaultKind::failed, alert_place(alert.core()), reason), batch.acks());
        continue;
      }
      extractor_->extract(alert.core(), values_.data());
      nlohmann::json vector = nlohmann::json::object();
      for (size_t k = 0; k < values_.size(); ++k)
        vector[extractor_->set().names[k]] =
            std::isfinite(values_[k]) ? nlohmann::json(values_[k]) : nlohmann::json(nullptr);
      Annotation a;
      a.kind = Annotation::Kind::tag;
      a.name = extractor_->set().name;
      a.provenance = provenance_;
      a.details = vector.dump();
      records.push_back(alert.annotated(std::move(a)));
    }
    if (!records.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  std::unique_ptr<FeatureExtractor> extractor_;
  Provenance provenance_;
  std::vector<float> values_;
};

class ScorerLogic final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    extractor_ = std::make_unique<FeatureExtractor>(feature_set_of(c));
    min_detections_ = static_cast<size_t>(std::max<int64_t>(0, c.integer("min_detections")));
    for (const ScorerModelSpec& spec : scorer_models(c)) {
      LoadedModel loaded = load_model(spec.reference, registry_path(c), workflow_dir(c));
      if (std::string why = feature_mismatch(loaded, extractor_->set()); !why.empty()) fail(spec.place, why);
      Annotation a;
      a.kind = Annotation::Kind::score;
      a.name = spec.name.empty() ? loaded.name : spec.name;
      a.provenance = {context.actor_id, context.type_name, loaded.name + "@" + loaded.version,
                      loaded.model.content_hash()};
      a.details = nlohmann::json{{"model", loaded.reference}, {"features", extractor_->set().name}}.dump();
      models_.push_back({std::move(loaded), std::move(a)});
    }
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    const size_t width = extractor_->size();
    rows_.clear();
    positions_.clear();
    size_t filtered = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      const AlertCore& core = static_cast<const Alert&>(batch[i]).core();
      if (std::string reason = unscorable_reason(core); !reason.empty()) {
        out.failed(batch.record(i), Fault(FaultKind::failed, alert_place(core), reason), batch.acks());
        continue;
      }
      size_t at = rows_.size();
      rows_.resize(at + width);
      if (extractor_->extract(core, rows_.data() + at) < min_detections_) {
        rows_.resize(at);
        ++filtered;
        continue;
      }
      positions_.push_back(static_cast<uint32_t>(i));
    }
    if (filtered) out.filtered(filtered);
    if (positions_.empty()) return;
    scores_.resize(models_.size() * positions_.size());
    for (size_t m = 0; m < models_.size(); ++m)
      models_[m].loaded.model.predict(rows_.data(), positions_.size(), scores_.data() + m * positions_.size());
    std::vector<RecordPtr> records;
    records.reserve(positions_.size());
    for (size_t r = 0; r < positions_.size(); ++r) {
      std::shared_ptr<const Alert> alert =
          std::static_pointer_cast<const Alert>(batch.record(positions_[r]));
      for (size_t m = 0; m < models_.size(); ++m) {
        Annotation a = models_[m].annotation;
        a.value = scores_[m * positions_.size() + r];
        alert = alert->annotated(std::move(a));
      }
      records.push_back(std::move(alert));
    }
    out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  struct Model {
    LoadedModel loaded;
    Annotation annotation;  // template: everything but the value
  };
  std::unique_ptr<FeatureExtractor> extractor_;
  std::vector<Model> models_;
  size_t min_detections_ = 1;
  std::vector<float> rows_, scores_;
  std::vector<uint32_t> positions_;
};

}  // namespace

std::vector<ScorerModelSpec> scorer_models(const ActorConfig& config) {
  YAML::Node node = config.node("models");
  std::vector<ScorerModelSpec> specs;
  auto entry = [&](const YAML::Node& item) {
    std::string place = place_of(config.file(), item);
    if (item.IsScalar()) return ScorerModelSpec{item.as<std::string>(), "", place};
    if (item.IsMap() && item["model"] && item["model"].IsScalar()) {
      for (const auto& kv : item) {
        auto key = kv.first.as<std::string>();
        if (key != "model" && key != "name") fail(place_of(config.file(), kv.first), "unknown key '" + key + "' (model, name)");
      }
      return ScorerModelSpec{item["model"].as<std::string>(), item["name"] ? item["name"].as<std::string>() : "", place};
    }
    fail(place, "a model is a path, registry://name[@version], or {model: ..., name: ...}");
  };
  if (!node.IsDefined() || node.IsNull()) fail(config.place("models"), "config key 'models' is not set");
  if (node.IsSequence())
    for (const YAML::Node& item : node) specs.push_back(entry(item));
  else
    specs.push_back(entry(node));
  if (specs.empty()) fail(config.place("models"), "no models");
  for (size_t i = 0; i < specs.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (!specs[i].name.empty() && specs[i].name == specs[j].name)
        fail(specs[i].place, "two models score as '" + specs[i].name + "'");
  return specs;
}

std::string feature_mismatch(const LoadedModel& model, const FeatureSet& set) {
  const std::vector<std::string>& names = model.feature_names;
  if (names.empty())
    return model.reference + " has no feature_names: train it with named features (xgboost.DMatrix(feature_names=" +
           "...)) or register it with a feature set";
  if (names == set.names) return {};
  std::string why = model.reference + " was trained on " + std::to_string(names.size()) + " features, " + set.name +
                    " gives " + std::to_string(set.names.size());
  for (size_t i = 0; i < std::min(names.size(), set.names.size()); ++i)
    if (names[i] != set.names[i])
      return why + "; column " + std::to_string(i) + " is '" + names[i] + "' in the model and '" + set.names[i] + "' in " +
             set.name;
  return why;
}

std::string unscorable_reason(const AlertCore& alert) {
  if (!std::isfinite(alert.mjd_tai)) return "cannot compute features: no finite detection time";
  if (!std::isfinite(alert.mag) && !std::isfinite(alert.flux))
    return "cannot compute features: the detection has neither a finite magnitude nor a finite flux";
  return {};
}

void register_ml_actors(ActorRegistry& registry) {
  std::string sets;
  for (const std::string& n : feature_set_names()) sets += (sets.empty() ? "" : ", ") + n;
  {
    ActorType t;
    t.name = "features";
    t.description = "Light-curve feature vectors as a tag annotation (JSON details)";
    t.version = "1.0";
    t.inputs = {{"in", PortType::alert, "alerts"}};
    t.outputs = {{"out", PortType::alert, "the same alerts with a feature-vector annotation"}};
    t.config = {{"features", ValueKind::string, false, "lc-basic/1", "feature set: " + sets}};
    t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
      try {
        feature_set_of(c);
      } catch (const Fault& f) {
        problems.push_back({f.place(), f.message()});
      }
    };
    t.create = [](const ActorContext&) { return std::make_unique<FeaturesLogic>(); };
    registry.add(std::move(t));
  }
  {
    ActorType t;
    t.name = "xgboost-score";
    t.description = "Scores alerts with XGBoost models on light-curve features (one score annotation per model)";
    t.version = "1.0";
    t.inputs = {{"in", PortType::alert, "alerts"}};
    t.outputs = {{"out", PortType::alert, "the same alerts with score annotations"}};
    t.config = {
        {"models", ValueKind::any, true, "",
         "model files (JSON/UBJSON) or registry://name[@version], or {model, name} maps; paths relative to the "
         "workflow file"},
        {"features", ValueKind::string, false, "lc-basic/1", "feature set the models were trained on: " + sets},
        {"registry", ValueKind::string, false, "", "model registry file for registry:// models (relative to the workflow file)"},
        {"min_detections", ValueKind::integer, false, "1",
         "alerts with fewer detections (the current one included) are filtered; features a short light curve "
         "cannot give are passed to XGBoost as missing"},
    };
    t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
      try {
        const FeatureSet& set = feature_set_of(c);
        for (const ScorerModelSpec& spec : scorer_models(c)) {
          try {
            LoadedModel loaded = load_model(spec.reference, registry_path(c), workflow_dir(c));
            if (std::string why = feature_mismatch(loaded, set); !why.empty()) problems.push_back({spec.place, why});
          } catch (const Fault& f) {
            problems.push_back({spec.place, f.what()});
          }
        }
      } catch (const Fault& f) {
        problems.push_back({f.place(), f.message()});
      }
    };
    t.create = [](const ActorContext&) { return std::make_unique<ScorerLogic>(); };
    registry.add(std::move(t));
  }
}

}  // namespace ebs::ml
