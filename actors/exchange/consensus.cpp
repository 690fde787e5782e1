#include "actors/exchange/consensus.h"

#include <algorithm>

#include "actors/exchange/exchange_actors.h"
#include "actors/common/elasticc/taxonomy.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"

namespace ebs::exchange {

double ConsensusRule::weight_of(const ClassifierOutput& input) const {
  if (auto it = weights.find(input.input_name()); it != weights.end()) return it->second;
  if (auto it = weights.find(input.broker); it != weights.end()) return it->second;
  return default_weight;
}

ConsensusResult combine(const std::vector<ClassifierOutput>& inputs, const ConsensusRule& rule) {
  ConsensusResult result;
  std::map<int32_t, double> sum;
  double total = 0;
  for (const ClassifierOutput& input : inputs) {
    const double w = rule.weight_of(input);
    if (w <= 0) {
      result.ignored.push_back({input.input_name(), w});
      continue;
    }
    result.used.push_back({input.input_name(), w});
    total += w;
    for (const ClassProbability& p : input.classes) sum[p.class_id] += w * p.probability;
  }
  if (total > 0)
    for (const auto& [id, s] : sum) result.classes.push_back({id, static_cast<float>(s / total)});
  return result;
}

namespace {

constexpr const char* kRule = "weighted mean: p(c) = sum_i w_i p_i(c) / sum_i w_i over the inputs present (absent class = 0)";

class ConsensusLogic final : public ActorLogic {
 public:
  void open(const ActorContext& context) override {
    const ActorConfig& c = context.config;
    map_ = class_map_from(c);
    if (c.has("from")) from_ = c.strings("from");
    if (c.has("expect")) expect_ = c.strings("expect");
    rule_.default_weight = c.number("default_weight");
    if (c.has("weights"))
      for (const auto& kv : c.node("weights")) rule_.weights[kv.first.as<std::string>()] = kv.second.as<double>();
    min_inputs_ = static_cast<size_t>(std::max<int64_t>(1, c.integer("min_inputs")));
    provenance_ = {context.actor_id, context.type_name, context.type_version, c.hash()};
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto alert = std::static_pointer_cast<const Alert>(batch.record(i));
      std::vector<ClassifierOutput> inputs = distributions(*alert, map_, from_);
      // Our own consensus annotations (of this or an earlier consensus actor) are not inputs.
      std::erase_if(inputs, [&](const ClassifierOutput& o) { return o.classifier.starts_with("consensus "); });
      ConsensusResult r = combine(inputs, rule_);
      if (r.used.size() < min_inputs_) {
        ++too_few_;
        records.push_back(std::move(alert));
        continue;
      }
      records.push_back(alert->annotated(annotation(r, inputs)));
    }
    out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

  std::vector<std::string> closing_warnings() const override {
    if (too_few_ == 0) return {};
    return {std::to_string(too_few_) + " alerts had fewer than " + std::to_string(min_inputs_) +
            " classifications with a weight: passed on without a consensus"};
  }

 private:
  Annotation annotation(const ConsensusResult& r, const std::vector<ClassifierOutput>& inputs) const {
    Annotation a;
    a.kind = Annotation::Kind::classification;
    a.provenance = provenance_;
    const ClassProbability* top = nullptr;
    for (const ClassProbability& p : r.classes)
      if (!top || p.probability > top->probability) top = &p;
    if (top) {
      a.name = std::string(elasticc::class_name(top->class_id));
      a.value = top->probability;
    }
    nlohmann::json used = nlohmann::json::array(), ignored = nlohmann::json::array(), missing = nlohmann::json::array();
    for (const ConsensusInput& in : r.used) used.push_back({{"name", in.name}, {"weight", in.weight}});
    for (const ConsensusInput& in : r.ignored) ignored.push_back({{"name", in.name}, {"weight", in.weight}});
    for (const std::string& e : expect_) {
      bool present = std::any_of(inputs.begin(), inputs.end(), [&](const ClassifierOutput& o) {
        return o.broker == e || o.input_name() == e;
      });
      if (!present) missing.push_back(e);
    }
    a.details = nlohmann::json{{"rule", kRule},
                               {"classifications", classes_json(r.classes)},
                               {"inputs", std::move(used)},
                               {"ignored", std::move(ignored)},
                               {"missing", std::move(missing)}}
                    .dump();
    return a;
  }

  ClassMap map_;
  std::vector<std::string> from_, expect_;
  ConsensusRule rule_;
  size_t min_inputs_ = 1;
  size_t too_few_ = 0;
  Provenance provenance_;
};

}  // namespace

void register_consensus(ActorRegistry& registry) {
  ActorType t;
  t.name = "consensus";
  t.description = "Combines several classifiers' ELAsTiCC class probabilities (ours and other brokers') by a weighted mean; names its inputs";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts with classifications (xgboost-score, classify, classification-join)"}};
  t.outputs = {{"out", PortType::alert, "the same alerts with a consensus classification annotation"}};
  t.config = class_map_config_keys();
  t.config.push_back({"weights", ValueKind::map, false, "", "\"<broker>\" or \"<broker>/<classifierName>\" -> weight (0 ignores it)"});
  t.config.push_back({"default_weight", ValueKind::number, false, "1", "the weight of an input not named in weights"});
  t.config.push_back({"min_inputs", ValueKind::integer, false, "1", "fewer weighted inputs: the alert passes on without a consensus (counted)"});
  t.config.push_back({"expect", ValueKind::list, false, "", "brokers (or <broker>/<classifier>) a consensus should have had: absent ones are listed in details.missing"});
  t.config.push_back({"from", ValueKind::list, false, "", "our actor ids whose annotations count (default: every xgboost-score and classify; other brokers' always count)"});
  t.check = [](const ActorConfig& c, std::vector<Problem>& problems) {
    check_class_map(c, problems);
    if (c.has("weights")) {
      YAML::Node w = c.node("weights");
      if (!w.IsMap()) {
        problems.push_back({c.place("weights"), "weights: a map broker or broker/classifier -> weight"});
        return;
      }
      for (const auto& kv : w) {
        double v = -1;
        try {
          v = kv.second.as<double>();
        } catch (const YAML::Exception&) {
        }
        if (!(v >= 0)) problems.push_back({place_of(c.file(), kv.second), "a weight is a number >= 0"});
      }
    }
    if (c.number("default_weight") < 0) problems.push_back({c.place("default_weight"), "default_weight must be >= 0"});
  };
  t.create = [](const ActorContext&) { return std::make_unique<ConsensusLogic>(); };
  t.uses_cutouts = uses_no_cutouts;
  registry.add(std::move(t));
}

}  // namespace ebs::exchange
