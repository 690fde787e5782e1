#include "actors/ml/retrain_policy.h"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "actors/ml/binary_metrics.h"
#include "actors/ml/ml_actors.h"
#include "actors/ml/model_registry.h"
#include "actors/ml/model_source.h"
#include "engine/graph/actor_config.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::ml {

namespace {

using nlohmann::json;

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Reads a policy map, refusing keys it does not know.
class PolicyReader {
 public:
  explicit PolicyReader(std::string file) : file_(std::move(file)) {}

  void keys(const YAML::Node& map, const std::set<std::string>& known, const std::string& what) {
    if (!map.IsMap()) fail(place_of(file_, map), what + " must be a map");
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>();
      if (!known.count(key)) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
        fail(place_of(file_, kv.first), "unknown key '" + key + "' in " + what + " (" + list + ")");
      }
    }
  }

  template <typename T>
  T get(const YAML::Node& node, const std::string& what) {
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(place_of(file_, node), what + " has the wrong type");
    }
  }

  std::vector<std::string> strings(const YAML::Node& node, const std::string& what) {
    if (node.IsScalar()) return {node.as<std::string>()};
    if (!node.IsSequence() || node.size() == 0) fail(place_of(file_, node), what + " is a class name or a list of them");
    std::vector<std::string> out;
    for (const YAML::Node& item : node) out.push_back(get<std::string>(item, what));
    return out;
  }

  std::string path(const YAML::Node& node, const std::string& what) {
    std::filesystem::path p(get<std::string>(node, what));
    if (p.is_relative()) p = std::filesystem::path(file_).parent_path() / p;
    return p.string();
  }

  std::string place(const YAML::Node& node) const { return place_of(file_, node); }

 private:
  std::string file_;
};

json evaluation(const ScoringModel& model, const LabelledSet& test, const RetrainPolicy& policy,
                const std::string& test_set) {
  json j = to_json(evaluate_scores(model.score_rows(test.features), test.labels, policy.threshold));
  j["test_set"] = test_set;
  return j;
}

}  // namespace

RetrainPolicy read_retrain_policy(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail(path, "cannot open the retraining policy");
  } catch (const YAML::ParserException& e) {
    fail(place_of(path, e.mark), e.msg);
  }
  RetrainPolicy p;
  p.file = path;
  PolicyReader r(path);
  r.keys(root,
         {"model", "registry", "repository", "features", "labels", "history_days", "trigger", "split", "metric",
          "min_improvement", "threshold", "training"},
         "the policy");
  for (const char* key : {"model", "registry", "repository", "labels", "trigger"})
    if (!root[key]) fail(path, std::string("the policy needs `") + key + "`");
  p.model = r.get<std::string>(root["model"], "model");
  p.registry = r.path(root["registry"], "registry");
  p.repository = r.path(root["repository"], "repository");
  if (root["features"]) {
    p.data.feature_set = r.get<std::string>(root["features"], "features");
    if (!find_feature_set(p.data.feature_set))
      fail(r.place(root["features"]), "unknown feature set '" + p.data.feature_set + "'");
  }
  const YAML::Node labels = root["labels"];
  r.keys(labels, {"positive", "negative", "source"}, "labels");
  if (!labels["positive"] || !labels["negative"]) fail(r.place(labels), "labels need `positive` and `negative` classes");
  p.positive = r.strings(labels["positive"], "labels.positive");
  p.negative = r.strings(labels["negative"], "labels.negative");
  if (labels["source"]) p.data.label_source = r.get<std::string>(labels["source"], "labels.source");
  if (root["history_days"]) p.data.history_days = r.get<double>(root["history_days"], "history_days");

  const YAML::Node trigger = root["trigger"];
  r.keys(trigger, {"new_labels", "every_hours"}, "trigger");
  if (trigger["new_labels"]) {
    p.trigger_new_labels = r.get<int64_t>(trigger["new_labels"], "trigger.new_labels");
    if (p.trigger_new_labels <= 0) fail(r.place(trigger["new_labels"]), "new_labels must be positive");
  }
  if (trigger["every_hours"]) {
    p.trigger_every_hours = r.get<double>(trigger["every_hours"], "trigger.every_hours");
    if (!(p.trigger_every_hours > 0)) fail(r.place(trigger["every_hours"]), "every_hours must be positive");
  }
  if (!p.trigger_new_labels && !p.trigger_every_hours)
    fail(r.place(trigger), "the trigger needs new_labels and/or every_hours");

  if (const YAML::Node split = root["split"]) {
    r.keys(split, {"by", "test_fraction"}, "split");
    if (split["by"]) {
      std::string by = r.get<std::string>(split["by"], "split.by");
      if (by != "object" && by != "time") fail(r.place(split["by"]), "split.by is object or time");
      p.split = parse_split(by);
    }
    if (split["test_fraction"]) {
      p.test_fraction = r.get<double>(split["test_fraction"], "split.test_fraction");
      if (!(p.test_fraction > 0 && p.test_fraction < 1)) fail(r.place(split["test_fraction"]), "must be in (0, 1)");
    }
  }
  if (root["metric"]) {
    p.metric = r.get<std::string>(root["metric"], "metric");
    try {
      metric_value(BinaryMetrics{}, p.metric);
    } catch (const Fault& f) {
      fail(r.place(root["metric"]), f.message());
    }
  }
  if (root["min_improvement"]) p.min_improvement = r.get<double>(root["min_improvement"], "min_improvement");
  if (root["threshold"]) p.threshold = r.get<double>(root["threshold"], "threshold");
  if (const YAML::Node t = root["training"]) {
    r.keys(t, {"trees", "depth", "eta", "subsample", "seed", "threads"}, "training");
    if (t["trees"]) p.training.rounds = r.get<size_t>(t["trees"], "training.trees");
    if (t["depth"]) p.training.max_depth = r.get<int>(t["depth"], "training.depth");
    if (t["eta"]) p.training.eta = r.get<double>(t["eta"], "training.eta");
    if (t["subsample"]) p.training.subsample = r.get<double>(t["subsample"], "training.subsample");
    if (t["seed"]) p.training.seed = r.get<int>(t["seed"], "training.seed");
    if (t["threads"]) p.training.threads = r.get<int>(t["threads"], "training.threads");
  }
  return p;
}

RetrainTrigger check_retrain_trigger(const RetrainPolicy& policy, bool force) {
  RetrainTrigger t;
  t.label_watermark = label_watermark(policy.repository);
  ModelRegistry registry(policy.registry);
  std::vector<json> log = registry.retrain_log(policy.model);
  const json* last = log.empty() ? nullptr : &log.back();
  int64_t seen = last ? last->value("label_watermark", int64_t{0}) : 0;
  t.new_labels = labels_since(policy.repository, seen, policy.data.label_source);
  double hours = last ? (now_unix() - last->value("trained_unix", 0.0)) / 3600 : INFINITY;
  if (force) {
    t.fire = true;
    t.reason = "forced";
  } else if (!last) {
    t.fire = true;
    t.reason = "no training of " + policy.model + " recorded yet";
  } else if (policy.trigger_new_labels && t.new_labels >= policy.trigger_new_labels) {
    t.fire = true;
    t.reason = std::to_string(t.new_labels) + " new labels since the last training (trigger: " +
               std::to_string(policy.trigger_new_labels) + ")";
  } else if (policy.trigger_every_hours && hours >= policy.trigger_every_hours) {
    t.fire = true;
    t.reason = "the last training is " + std::to_string(hours) + " h old (trigger: every " +
               std::to_string(policy.trigger_every_hours) + " h)";
  } else {
    t.reason = std::to_string(t.new_labels) + " new labels since the last training" +
               (policy.trigger_new_labels ? " (trigger: " + std::to_string(policy.trigger_new_labels) + ")" : "") +
               (policy.trigger_every_hours ? "; last training " + std::to_string(hours) + " h ago (trigger: every " +
                                                 std::to_string(policy.trigger_every_hours) + " h)"
                                           : "");
  }
  return t;
}

json run_retrain(const RetrainPolicy& policy, bool force) {
  RetrainTrigger trigger = check_retrain_trigger(policy, force);
  json decision{{"model", policy.model},
                {"trigger", {{"fired", trigger.fire},
                             {"reason", trigger.reason},
                             {"new_labels", trigger.new_labels},
                             {"label_watermark", trigger.label_watermark}}}};
  if (!trigger.fire) {
    decision["decision"] = "skipped";
    decision["reason"] = trigger.reason;
    return decision;
  }

  const FeatureSet& set = *find_feature_set(policy.data.feature_set);
  ExportedSet exported = export_labelled_features(policy.repository, policy.data);
  LabelledSetOptions read;
  read.feature_names = set.names;
  read.positive = policy.positive;
  read.negative = policy.negative;
  LabelledSet all = parse_labelled_csv(exported.csv, policy.repository + " (exported labelled set)", read);
  Split split = split_set(all, policy.split, policy.test_fraction);
  if (split.train.empty() || split.test.empty())
    fail(policy.repository, "the split leaves " + std::to_string(split.train.size()) + " training and " +
                                std::to_string(split.test.size()) + " held-back rows: label more objects");
  LabelledSet train = all.subset(split.train), test = all.subset(split.test);
  // The same identity `model eval --repository ... --split S --test-fraction F` gives this set.
  std::ostringstream test_set_text;
  test_set_text << hex64(fnv1a64(exported.csv)) << "/" << (policy.split == SplitBy::object ? "object" : "time") << "/"
                << policy.test_fraction;
  std::string test_set = test_set_text.str();

  XgboostModel candidate = XgboostModel::train(train.features, train.labels, set.names, policy.training);
  json candidate_metrics = evaluation(candidate, test, policy, test_set);
  double candidate_value = metric_value(evaluate_scores(candidate.predict(test.features), test.labels, policy.threshold),
                                        policy.metric);
  if (std::isnan(candidate_value))
    fail(policy.repository, "the held-back set gives no " + policy.metric +
                                " (one class only, or nothing called positive): label more objects of both classes");

  ModelRegistry registry(policy.registry);
  std::optional<ModelEntry> production = registry.production(policy.model);
  json production_json = nullptr;
  double production_value = NAN;
  if (production) {
    LoadedModel current = load_model(production->reference(), policy.registry);
    if (std::string why = feature_mismatch(current, set); !why.empty())
      fail(policy.file, "production " + production->reference() + " cannot be evaluated on " + set.name + ": " + why);
    json metrics = evaluation(*current.model, test, policy, test_set);
    production_value = metric_value(
        evaluate_scores(current.model->score_rows(test.features), test.labels, policy.threshold), policy.metric);
    registry.set_metrics(production->name, production->version, metrics);
    production_json = {{"reference", production->reference()}, {"metrics", metrics}};
  }

  NewModel m;
  m.name = policy.model;
  m.bytes = candidate.save("ubj");
  m.feature_set = set.name;
  m.feature_names = set.names;
  m.training_data = "repository " + policy.repository + " labels<=" + std::to_string(exported.label_watermark) +
                    " export " + hex64(fnv1a64(exported.csv)) + " (" + std::to_string(train.size()) + " train rows)";
  m.metrics = candidate_metrics;
  ModelEntry registered = registry.add(m);

  std::string verdict, reason;
  if (!production) {
    registry.promote(policy.model, registered.version, policy.metric, false);
    verdict = "promoted";
    reason = "no production version yet";
  } else if (candidate_value - production_value >= policy.min_improvement) {
    registry.promote(policy.model, registered.version, policy.metric, false);
    verdict = "promoted";
    reason = policy.metric + " " + std::to_string(candidate_value) + " beats production's " +
             std::to_string(production_value) + " by at least " + std::to_string(policy.min_improvement);
  } else {
    verdict = "kept";
    reason = "candidate " + policy.metric + " " + std::to_string(candidate_value) + " does not beat production " +
             production->reference() + "'s " + std::to_string(production_value) + " by " +
             std::to_string(policy.min_improvement);
  }

  decision["decision"] = verdict;
  decision["reason"] = reason;
  decision["metric"] = policy.metric;
  decision["min_improvement"] = policy.min_improvement;
  decision["candidate"] = {{"reference", registered.reference()}, {"metrics", candidate_metrics}};
  decision["production"] = production_json;
  decision["production_now"] = registry.production(policy.model)->reference();
  decision["test_set"] = test_set;
  decision["train_rows"] = train.size();
  decision["test_rows"] = test.size();
  decision["label_watermark"] = exported.label_watermark;
  decision["trained_unix"] = now_unix();
  registry.record_retrain(policy.model, decision);
  return decision;
}

}  // namespace ebs::ml
