// The `classify` actor: Sherlock-style contextual classification of each alert from a YAML rule
// set (sherlock_rules.h), querying the rule set's catalogues itself; one classification
// annotation per alert (ORPHAN when nothing matches), every alert forwarded.
#include "actors/crossmatch/crossmatch_actors.h"
#include "actors/crossmatch/sherlock_rules.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/fault.h"

namespace ebs {

namespace crossmatch {

// The family builds on the catalogue library (actors/common/catalog).
using namespace ::ebs::catalog;
namespace {

// The rule set with the config's `catalogues:` overrides (name -> file) applied.
std::shared_ptr<const RuleSet> read_rules(const ActorConfig& config) {
  RuleSet rules;
  try {
    rules = load_rule_set(resolve_path(workflow_dir(config), config.string("rules")));
  } catch (const Fault& f) {
    fail(config.place("rules"), f.place() + ": " + f.message());
  }
  if (config.has("catalogues")) {
    const YAML::Node overrides = config.node("catalogues");
    if (!overrides.IsMap()) fail(config.place("catalogues"), "catalogues: a map name -> catalogue file");
    for (const auto& kv : overrides) {
      const std::string name = kv.first.as<std::string>();
      if (!rules.catalogues.count(name))
        fail(place_of(config.file(), kv.first), "the rule set has no catalogue '" + name + "'");
      rules.catalogues[name] = resolve_path(workflow_dir(config), kv.second.as<std::string>());
      rules.catalogue_places[name] = place_of(config.file(), kv.second);
    }
  }
  return std::make_shared<const RuleSet>(std::move(rules));
}

class ClassifyActor final : public ActorLogic {
 public:
  explicit ClassifyActor(std::shared_ptr<CatalogStore> store) : store_(std::move(store)) {}

  void open(const ActorContext& context) override {
    auto rules = read_rules(context.config);
    const auto cache = catalogue_cache_dir(context);
    classifier_ = std::make_unique<Classifier>(rules, [&](const std::string& name) {
      try {
        return store_->open(rules->catalogues.at(name), cache);
      } catch (const Fault& f) {
        fail(rules->catalogue_places.at(name), f.place() + ": " + f.message());
      }
    });
    provenance_ = {context.actor_id, context.type_name, rules->version, rules->content_hash};
  }

  void on_batch(size_t, const BatchView& batch, Emitter& out) override {
    std::vector<RecordPtr> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& alert = static_cast<const Alert&>(batch[i]);
      const AlertCore& core = alert.core();
      if (auto problem = coordinate_problem(core)) {
        out.failed(batch.record(i), Fault(FaultKind::failed, alert_place(core), *problem), batch.acks());
        continue;
      }
      const Classification c = classifier_->classify(core.ra, core.dec, core.mjd_tai);
      records.push_back(alert.annotated(classifier_->annotation(c, provenance_)));
    }
    if (!records.empty()) out.forward(0, BatchView::make(PortType::alert, std::move(records), batch.acks()));
  }

 private:
  std::shared_ptr<CatalogStore> store_;
  std::unique_ptr<Classifier> classifier_;
  Provenance provenance_;
};

}  // namespace
}  // namespace crossmatch

ActorType classify_actor_type(std::shared_ptr<catalog::CatalogStore> store) {
  ActorType t;
  t.name = "classify";
  t.description = "Sherlock-style contextual classification (VS, CV, BS, AGN, NT, SN, ORPHAN, UNCLEAR) from a YAML rule set";
  t.version = "1.0";
  t.inputs = {{"in", PortType::alert, "alerts"}};
  t.outputs = {{"out", PortType::alert, "every alert, with one classification annotation"}};
  t.config = {
      {"rules", ValueKind::string, true, "", "rule set YAML (e.g. catalogs/rules/sherlock.yaml), relative to the workflow"},
      {"catalogues", ValueKind::map, false, "", "override the rule set's catalogue files: name -> .ebscat or YAML config"},
      {"cache_dir", ValueKind::string, false, "", "where catalogue YAML configs are built (default: $EBS_CATALOG_CACHE, else ~/.cache/ebs-flow/catalogs; docs/catalogs.md)"}};
  t.check = [](const ActorConfig& config, std::vector<Problem>& problems) {
    try {
      const auto rules = crossmatch::read_rules(config);
      for (const auto& [name, path] : rules->catalogues)
        if (auto problem = catalog::catalogue_problem(path)) problems.push_back({rules->catalogue_places.at(name), *problem});
    } catch (const Fault& f) {
      problems.push_back({f.place(), f.message()});
    }
  };
  t.adds_fields = [](const ActorConfig&) { return std::vector<std::string>{}; };
  t.needed_files = [](const ActorConfig& config) {
    std::vector<std::string> files{catalog::resolve_path(catalog::workflow_dir(config), config.string("rules")).string()};
    for (const auto& [name, path] : crossmatch::read_rules(config)->catalogues)
      for (std::string& file : catalog::catalogue_files(path)) files.push_back(std::move(file));
    return files;
  };
  t.create = [store](const ActorContext&) { return std::make_unique<crossmatch::ClassifyActor>(store); };
  t.uses_cutouts = uses_no_cutouts;
  return t;
}

void register_crossmatch_actors(ActorRegistry& registry) {
  auto store = std::make_shared<catalog::CatalogStore>();
  registry.add(crossmatch_actor_type(store));
  registry.add(classify_actor_type(store));
  registry.add(tns_actor_type(store));
}

}  // namespace ebs
