#include "actors/ml/ml_actors.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>

#include "actors/ml/feature_json.h"
#include "actors/ml/model_inputs.h"
#include "actors/ml/model_registry.h"
#include "actors/ml/shadow_tally.h"
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

// A shadow on registry://NAME@candidate while the registry holds no candidate of NAME (the last
// one was just promoted, say) is left out, with a warning: the workflow runs with production
// alone until the next candidate is registered and the workflow restarted.
std::vector<ScorerModelSpec> without_absent_candidates(std::vector<ScorerModelSpec> specs, const std::string& registry) {
  constexpr std::string_view kCandidate = "@candidate";
  std::vector<ScorerModelSpec> kept;
  for (ScorerModelSpec& spec : specs) {
    if (spec.shadow && is_registry_reference(spec.reference) && spec.reference.ends_with(kCandidate) &&
        !registry.empty() && std::filesystem::exists(registry)) {
      std::string name = spec.reference.substr(std::string_view("registry://").size());
      name.resize(name.size() - kCandidate.size());
      bool any = false;
      for (const ModelEntry& e : ModelRegistry(registry).list(name)) any = any || e.state == ModelState::candidate;
      if (!any) {
        spdlog::warn("{}: no candidate version of {} in {}: this shadow is left out", spec.place, name, registry);
        continue;
      }
    }
    kept.push_back(std::move(spec));
  }
  return kept;
}

// Which model kinds a scorer type runs (docs/ml.md): xgboost-score XGBoost boosters only,
// anomaly isolation forests only, torch-score every kind (a TorchScript shadow beside an XGBoost
// production model, say).
std::string kind_problem(const std::string& type, const LoadedModel& model) {
  const std::string format = model.model->format();
  if (type == "xgboost-score" && format != "json" && format != "ubj")
    return model.reference + " is a " + format + " model: xgboost-score runs XGBoost models (use torch-score)";
  if (type == "anomaly" && format != "iforest")
    return model.reference + " is not an isolation forest: anomaly runs those (ebs-flow model train --kind isolation-forest)";
  return {};
}

// A scorer's models, loaded and checked: each with the input it reads (a TorchScript model's own
// declaration, else the scorer's `features`).
struct ScorerModels {
  std::vector<ScorerModelSpec> specs;
  std::vector<LoadedModel> loaded;
  std::vector<std::string> inputs;  // per model
  std::vector<long> partners;       // shadow_partners
};

// Faults carry the failing entry's place; `problems`, when given, collects every entry's problem
// instead of stopping at the first (validate).
ScorerModels load_scorer_models(const ActorConfig& c, const std::string& type, std::vector<Problem>* problems) {
  const FeatureSet& set = feature_set_of(c);
  ScorerModels m;
  m.specs = without_absent_candidates(scorer_models(c), registry_path(c));
  for (const ScorerModelSpec& spec : m.specs) {
    try {
      LoadedModel model = load_model(spec.reference, registry_path(c), workflow_dir(c));
      std::string why = kind_problem(type, model);
      std::string inputs = model.inputs.empty() ? set.name : model.inputs;
      if (why.empty() && model.inputs.empty()) why = feature_mismatch(model, set);
      if (!why.empty()) {
        if (!problems) fail(spec.place, why);
        problems->push_back({spec.place, why});
      }
      m.loaded.push_back(std::move(model));
      m.inputs.push_back(std::move(inputs));
    } catch (const Fault& f) {
      if (!problems) fail(spec.place, f.what());
      problems->push_back({spec.place, f.what()});
    }
  }
  if (m.loaded.size() == m.specs.size()) m.partners = shadow_partners(m.specs, m.loaded);
  return m;
}

class FeaturesLogic final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    extractor_ = std::make_unique<FeatureExtractor>(feature_set_of(context.config));
    provenance_ = {context.actor_id, context.type_name, context.type_version, context.config.hash()};
    values_.resize(extractor_->size());
    json_ = std::make_unique<FeatureJson>(extractor_->set().names);
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
      Annotation a;
      a.kind = Annotation::Kind::tag;
      a.name = extractor_->set().name;
      a.provenance = provenance_;
      a.details = json_->write(values_.data());
      records.push_back(alert.annotated(std::move(a)));
    }
    if (!records.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  std::unique_ptr<FeatureExtractor> extractor_;
  std::unique_ptr<FeatureJson> json_;
  Provenance provenance_;
  std::vector<float> values_;
};

class ScorerLogic final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    min_detections_ = static_cast<size_t>(std::max<int64_t>(0, c.integer("min_detections")));
    ScorerModels m = load_scorer_models(c, context.type_name, nullptr);
    std::vector<Annotation> annotations;
    for (size_t i = 0; i < m.specs.size(); ++i) {
      Annotation a;
      a.kind = Annotation::Kind::score;
      a.name = score_name(m.specs[i], m.loaded[i]);
      a.provenance = {context.actor_id, context.type_name, m.loaded[i].name + "@" + m.loaded[i].version,
                      m.loaded[i].model->content_hash()};
      nlohmann::json details{{"model", m.loaded[i].reference}};
      details[m.loaded[i].inputs.empty() ? "features" : "inputs"] = m.inputs[i];
      if (m.specs[i].shadow) {
        const LoadedModel& production = m.loaded[static_cast<size_t>(m.partners[i])];
        details["shadow"] = true;
        details["state"] = m.loaded[i].state.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.loaded[i].state);
        details["against"] = production.reference;
        ShadowTally tally;
        tally.name = m.loaded[i].name;
        tally.shadow_reference = m.loaded[i].reference;
        tally.production_reference = production.reference;
        tally.threshold = c.number("shadow_threshold");
        shadows_.push_back({i, static_cast<size_t>(m.partners[i]), tally, tally});
      }
      a.details = details.dump();
      annotations.push_back(std::move(a));
    }
    // One encoder per distinct input: models reading the same input share its rows.
    for (size_t i = 0; i < m.specs.size(); ++i) {
      size_t e = 0;
      while (e < encoders_.size() && encoders_[e]->layout().declaration != m.inputs[i]) ++e;
      if (e == encoders_.size()) {
        encoders_.push_back(make_input_encoder(m.inputs[i], m.specs[i].place));
        rows_.emplace_back();
      }
      models_.push_back({std::move(m.loaded[i]), std::move(annotations[i]), e});
    }
    actor_ = context.actor_id;
    registry_ = registry_path(c);
    if (c.has("shadow_report") && !c.string("shadow_report").empty()) {
      std::filesystem::path report(c.string("shadow_report"));
      if (report.is_relative() && !context.run_dir.empty()) report = std::filesystem::path(context.run_dir) / report;
      report_ = report.string();
    }
    flush_interval_ = std::chrono::seconds(std::max<int64_t>(1, c.integer("shadow_flush_seconds")));
  }

  std::chrono::microseconds tick_interval() const override {
    return shadows_.empty() || registry_.empty() ? std::chrono::microseconds(0) : flush_interval_;
  }

  void on_tick(Emitter&) override { flush_to_registry(); }

  void on_end_of_stream(Emitter&) override {
    flush_to_registry();
    if (report_.empty() || shadows_.empty()) return;
    std::string lines;
    for (const Shadow& s : shadows_) {
      nlohmann::json line = s.total.summary();
      line["actor"] = actor_;
      lines += line.dump() + "\n";
    }
    std::ofstream out(report_, std::ios::app);
    out << lines;
    if (!out) spdlog::warn("{}: cannot write the shadow report", report_);
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    for (std::vector<float>& rows : rows_) rows.clear();
    positions_.clear();
    size_t filtered = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      const AlertCore& core = static_cast<const Alert&>(batch[i]).core();
      if (std::string reason = unscorable_reason(core); !reason.empty()) {
        out.failed(batch.record(i), Fault(FaultKind::failed, alert_place(core), reason), batch.acks());
        continue;
      }
      size_t detections = 0;
      size_t encoded = 0;
      try {
        for (; encoded < encoders_.size(); ++encoded) {
          std::vector<float>& rows = rows_[encoded];
          size_t at = rows.size();
          rows.resize(at + encoders_[encoded]->layout().width);
          detections = std::max(detections, encoders_[encoded]->encode(core, rows.data() + at));
        }
      } catch (const Fault& f) {  // a corrupt or missing cutout: this alert only
        drop_last_rows(encoded + 1);
        out.failed(batch.record(i), f, batch.acks());
        continue;
      }
      if (detections < min_detections_) {
        drop_last_rows(encoders_.size());
        ++filtered;
        continue;
      }
      positions_.push_back(static_cast<uint32_t>(i));
    }
    if (filtered) out.filtered(filtered);
    if (positions_.empty()) return;
    scores_.resize(models_.size() * positions_.size());
    for (size_t m = 0; m < models_.size(); ++m)
      models_[m].loaded.model->predict(rows_[models_[m].encoder].data(), positions_.size(),
                                       scores_.data() + m * positions_.size());
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
    for (Shadow& s : shadows_)
      for (size_t r = 0; r < positions_.size(); ++r) {
        double production = scores_[s.production * positions_.size() + r];
        double shadow = scores_[s.model * positions_.size() + r];
        s.pending.add(production, shadow);
        s.total.add(production, shadow);
      }
    out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  struct Model {
    LoadedModel loaded;
    Annotation annotation;  // template: everything but the value
    size_t encoder;         // index into encoders_ and rows_
  };

  // Takes back the rows the first `count` encoders wrote for the alert being encoded.
  void drop_last_rows(size_t count) {
    for (size_t e = 0; e < std::min(count, encoders_.size()); ++e)
      if (rows_[e].size() >= encoders_[e]->layout().width) rows_[e].resize(rows_[e].size() - encoders_[e]->layout().width);
  }
  struct Shadow {
    size_t model, production;  // indices into models_
    ShadowTally pending;       // since the last flush to the registry
    ShadowTally total;         // since open, for the report
  };

  // Appends what was tallied since the last flush to the registry's shadow_results. A registry
  // that cannot be written keeps the tally for the next flush: the stream goes on.
  void flush_to_registry() {
    if (registry_.empty()) return;
    try {
      std::unique_ptr<ModelRegistry> registry;
      for (Shadow& s : shadows_) {
        if (s.pending.count == 0) continue;
        if (!registry) registry = std::make_unique<ModelRegistry>(registry_);
        registry->add_shadow_tally(s.pending, actor_);
        s.pending.clear_counts();
      }
    } catch (const std::exception& e) {
      spdlog::warn("{}: shadow results not recorded yet: {}", registry_, e.what());
    }
  }

  std::vector<Shadow> shadows_;
  std::string actor_, registry_, report_;
  std::chrono::microseconds flush_interval_{std::chrono::seconds(60)};
  std::vector<std::unique_ptr<InputEncoder>> encoders_;
  std::vector<Model> models_;
  size_t min_detections_ = 1;
  std::vector<std::vector<float>> rows_;  // per encoder: one row per scored alert
  std::vector<float> scores_;
  std::vector<uint32_t> positions_;
};

}  // namespace

std::vector<ScorerModelSpec> scorer_models(const ActorConfig& config) {
  YAML::Node node = config.node("models");
  std::vector<ScorerModelSpec> specs;
  auto entry = [&](const YAML::Node& item) {
    std::string place = place_of(config.file(), item);
    if (item.IsScalar()) return ScorerModelSpec{item.as<std::string>(), "", place, false, ""};
    if (item.IsMap() && item["model"] && item["model"].IsScalar()) {
      for (const auto& kv : item) {
        auto key = kv.first.as<std::string>();
        if (key != "model" && key != "name" && key != "shadow" && key != "against")
          fail(place_of(config.file(), kv.first), "unknown key '" + key + "' (model, name, shadow, against)");
      }
      ScorerModelSpec spec{item["model"].as<std::string>(), item["name"] ? item["name"].as<std::string>() : "", place,
                           false, ""};
      if (item["shadow"]) {
        try {
          spec.shadow = item["shadow"].as<bool>();
        } catch (const YAML::Exception&) {
          fail(place_of(config.file(), item["shadow"]), "shadow is true or false");
        }
      }
      if (item["against"]) {
        if (!spec.shadow) fail(place_of(config.file(), item["against"]), "`against` is for shadow models");
        spec.against = item["against"].as<std::string>();
      }
      return spec;
    }
    fail(place, "a model is a path, registry://name[@version], or {model: ..., name: ..., shadow: true}");
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

std::string score_name(const ScorerModelSpec& spec, const LoadedModel& model) {
  if (!spec.name.empty()) return spec.name;
  return spec.shadow ? model.name + ".shadow" : model.name;
}

std::vector<long> shadow_partners(const std::vector<ScorerModelSpec>& specs, const std::vector<LoadedModel>& models) {
  std::vector<long> partners(specs.size(), -1);
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].shadow) continue;
    long same_model = -1, first = -1, named = -1;
    for (size_t j = 0; j < specs.size(); ++j) {
      if (specs[j].shadow) continue;
      if (first < 0) first = static_cast<long>(j);
      if (same_model < 0 && models[j].name == models[i].name) same_model = static_cast<long>(j);
      if (score_name(specs[j], models[j]) == specs[i].against) named = static_cast<long>(j);
    }
    if (!specs[i].against.empty() && named < 0)
      fail(specs[i].place, "`against: " + specs[i].against + "` names no production (non-shadow) model of this scorer");
    if (first < 0) fail(specs[i].place, "a shadow model needs a production (non-shadow) model beside it");
    partners[i] = named >= 0 ? named : same_model >= 0 ? same_model : first;
  }
  return partners;
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

namespace {

constexpr const char* kNoTorch =
    "torch-score needs libtorch, and this ebs-flow was built without it (EBS_TORCH=OFF): rebuild with "
    "-DEBS_TORCH=ON (tools/install-deps.sh installs libtorch-dev), or score with xgboost-score or anomaly";

ActorType scorer_type(const std::string& name, const std::string& description, const std::string& models_help,
                      const std::string& sets) {
  ActorType t;
  t.name = name;
  t.description = description;
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "the same alerts with score annotations"}};
  t.config = {
      {"models", ValueKind::any, true, "", models_help},
      {"features", ValueKind::string, false, "lc-basic/1", "feature set the feature-vector models were trained on: " + sets},
      {"registry", ValueKind::string, false, "", "model registry file for registry:// models (relative to the workflow file)"},
      {"shadow_threshold", ValueKind::number, false, "0.5",
       "score at and above which a shadow and its production model call an alert positive (agreement)"},
      {"shadow_report", ValueKind::string, false, "",
       "file (relative to the run directory) that gets each shadow model's summary at the end of the stream"},
      {"shadow_flush_seconds", ValueKind::integer, false, "60",
       "how often shadow tallies are appended to the registry's shadow_results (and at the end)"},
      {"min_detections", ValueKind::integer, false, "1",
       "alerts with fewer detections (the current one included) are filtered; features a short light curve "
       "cannot give are passed to the models as missing"},
  };
  t.check = [name](const ActorConfig& c, std::vector<Problem>& problems) {
    try {
      load_scorer_models(c, name, &problems);
    } catch (const Fault& f) {
      problems.push_back({f.place(), f.message()});
    }
  };
  t.adds_fields = [name](const ActorConfig& c) {
    std::vector<std::string> fields;
    for (const ScorerModelSpec& spec : without_absent_candidates(scorer_models(c), registry_path(c)))
      fields.push_back("score." + score_name(spec, load_model(spec.reference, registry_path(c), workflow_dir(c))));
    return fields;
  };
  t.needed_files = [](const ActorConfig& c) {
    // Model files, and the registry when a model comes from it. A shipped registry is the node's
    // own copy: shadow results a scorer appends there stay on the node (docs/cluster.md).
    std::vector<std::string> files;
    bool registry = false;
    for (const ScorerModelSpec& spec : scorer_models(c)) {
      if (is_registry_reference(spec.reference)) {
        registry = true;
        continue;
      }
      std::filesystem::path path(spec.reference);
      if (path.is_relative() && !workflow_dir(c).empty()) path = std::filesystem::path(workflow_dir(c)) / path;
      files.push_back(path.string());
    }
    if (registry && !registry_path(c).empty()) files.push_back(registry_path(c));
    return files;
  };
  t.uses_cutouts = uses_no_cutouts;
  t.create = [](const ActorContext&) { return std::make_unique<ScorerLogic>(); };
  return t;
}

}  // namespace

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
    t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
    t.uses_cutouts = uses_no_cutouts;
    t.create = [](const ActorContext&) { return std::make_unique<FeaturesLogic>(); };
    registry.add(std::move(t));
  }
  {
    ActorType t = scorer_type("xgboost-score", "Scores alerts with XGBoost models on light-curve features (one score annotation per model)",
                              "model files (JSON/UBJSON) or registry://name[@version], or {model, name, shadow, against} "
                              "maps; paths relative to the workflow file", sets);
    registry.add(std::move(t));
  }
  {
    ActorType t = scorer_type("anomaly",
                              "Anomaly scores (isolation forests on light-curve features; near 1 = anomalous), one score "
                              "annotation per model",
                              "isolation forests (ebs-flow model train --kind isolation-forest): files or "
                              "registry://name[@version], or {model, name, shadow, against} maps",
                              sets);
    registry.add(std::move(t));
  }
  {
    ActorType t = scorer_type("torch-score",
                              "Scores alerts with TorchScript networks on cutouts, light curves or features (and XGBoost "
                              "models beside them), on threads of its own",
                              "TorchScript (.pt), XGBoost or registry://name[@version] models, or {model, name, shadow, "
                              "against} maps; each reads the input its registry entry declares",
                              sets);
    // Networks may read the cutouts (a model's `cutouts/N` input).
    t.uses_cutouts = [](const ActorConfig&, const std::vector<std::string>&) { return true; };
    // Inference takes milliseconds per batch: each instance computes on a thread of its own (a
    // detached actor, libtorch on that one thread), never on one of the scheduler's, and that
    // thread counts within --threads.
    t.blocking = true;
    t.compute_threads = 1;
    if (!torchscript_available()) {
      // Registered all the same, so that a workflow naming it hears why it cannot run here.
      t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
        problems.push_back({c.place("models"), kNoTorch});
      };
      t.create = [](const ActorContext& context) -> std::unique_ptr<ActorLogic> {
        fail(context.config.place("models"), kNoTorch);
      };
    }
    registry.add(std::move(t));
  }
}

}  // namespace ebs::ml
