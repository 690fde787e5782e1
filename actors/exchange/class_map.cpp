#include "actors/exchange/class_map.h"

#include <algorithm>
#include <cmath>

#include "actors/common/elasticc/taxonomy.h"
#include "engine/util/fault.h"
#include "engine/util/hash.h"

namespace ebs::exchange {

namespace {

// A class written as its taxonomy name ("Ia") or id (2222); a Fault at `place` otherwise.
int32_t class_at(const YAML::Node& value, const std::string& file) {
  std::string text = value.Scalar();
  if (auto id = elasticc::parse_class(text)) return *id;
  fail(place_of(file, value), "'" + text + "' is not a class of the ELAsTiCC taxonomy (a name such as Ia, AGN, "
                              "SN-like, or an id such as 2222; docs/exchange.md)");
}

std::map<std::string, int32_t> classes_of(const ActorConfig& config, const std::string& key) {
  std::map<std::string, int32_t> out;
  if (!config.has(key)) return out;
  YAML::Node map = config.node(key);
  if (!map.IsMap()) fail(config.place(key), key + ": a map name -> ELAsTiCC class (name or id)");
  for (const auto& kv : map) out[kv.first.as<std::string>()] = class_at(kv.second, config.file());
  return out;
}

}  // namespace

std::map<std::string, int32_t> default_sherlock_classes() {
  return {{"SN", 2220},    // SN-like: off a galaxy's nucleus
          {"NT", 2200},    // Non-Recurring: a nuclear transient (TDE, SN or AGN flare near a nucleus)
          {"AGN", 2332},   // AGN
          {"CV", 2234},    // Dwarf Novae: the taxonomy's cataclysmic variables
          {"VS", 2300},    // Recurring: a variable star of unknown kind
          {"BS", 1000},    // Static: a subtraction artefact of a bright star
          {"ORPHAN", 300}, // NotClassified: no context, Sherlock says nothing
          {"UNCLEAR", 300}};
}

std::vector<ConfigKey> class_map_config_keys() {
  return {
      {"broker_name", ValueKind::string, false, "ebs-flow", "brokerName of our classifications"},
      {"broker_version", ValueKind::string, false, "", "brokerVersion (default: ebs-flow's version)"},
      {"scores", ValueKind::map, false, "", "xgboost-score name -> the ELAsTiCC class its probability is of (1 - p goes to Residual); scores not listed are not used"},
      {"sherlock_classes", ValueKind::map, false, "", "classify class -> ELAsTiCC class, overriding the built-in table (docs/exchange.md)"},
  };
}

void check_class_map(const ActorConfig& config, std::vector<Problem>& problems) {
  try {
    class_map_from(config);
  } catch (const Fault& f) {
    problems.push_back({f.place(), f.message()});
  }
}

ClassMap class_map_from(const ActorConfig& config) {
  ClassMap map;
  map.broker_name = config.string("broker_name");
  map.broker_version = config.has("broker_version") && !config.string("broker_version").empty()
                           ? config.string("broker_version")
                           : std::string(EBS_FLOW_VERSION);
  map.sherlock = default_sherlock_classes();
  for (const auto& [name, id] : classes_of(config, "sherlock_classes")) map.sherlock[name] = id;
  map.scores = classes_of(config, "scores");
  for (const auto& [name, id] : map.scores)
    if (id == elasticc::kResidual)
      fail(config.place("scores"), "score " + name + ": Residual (200) takes 1 - p already; name the class p is of");
  return map;
}

nlohmann::json classes_json(const std::vector<ClassProbability>& classes) {
  nlohmann::json out = nlohmann::json::array();
  for (const ClassProbability& p : classes)
    out.push_back({{"classId", p.class_id},
                   {"className", elasticc::class_name(p.class_id)},
                   {"probability", static_cast<double>(p.probability)}});
  return out;
}

std::vector<ClassProbability> classes_from_json(const nlohmann::json& list, const std::string& place) {
  if (!list.is_array()) fail(place, "details.classifications is not a list");
  std::vector<ClassProbability> out;
  for (const auto& item : list) {
    if (!item.is_object() || !item.contains("classId") || !item["classId"].is_number_integer() ||
        !item.contains("probability") || !item["probability"].is_number())
      fail(place, "details.classifications holds an entry without an integer classId and a probability");
    out.push_back({item["classId"].get<int32_t>(), item["probability"].get<float>()});
  }
  return out;
}

Annotation foreign_annotation(const Classification& c, const std::string& joined_by) {
  Annotation a;
  a.kind = Annotation::Kind::classification;
  a.provenance = {c.broker_name, kForeignActorType, c.broker_version, hex64(fnv1a64(c.classifier_name + "\n" + c.classifier_params))};
  a.catalogue = c.broker_name;
  a.source_id = c.alert_key;
  // The annotation's name and value are the most probable class, as for classify's.
  const ClassProbability* top = nullptr;
  for (const ClassProbability& p : c.classes)
    if (!top || p.probability > top->probability) top = &p;
  if (top) {
    a.name = std::string(elasticc::class_name(top->class_id));
    a.value = top->probability;
  }
  nlohmann::json details{{"brokerName", c.broker_name},
                         {"brokerVersion", c.broker_version},
                         {"classifierName", c.classifier_name},
                         {"classifierParams", c.classifier_params},
                         {"alertId", std::to_string(c.alert_id)},
                         {"diaSourceId", std::to_string(c.dia_source_id)},
                         {"elasticcPublishTimestamp", c.alert_timestamp_ms},
                         {"brokerIngestTimestamp", c.ingest_timestamp_ms ? nlohmann::json(*c.ingest_timestamp_ms) : nlohmann::json(nullptr)},
                         {"classifications", classes_json(c.classes)},
                         {"joined_by", joined_by}};
  a.details = details.dump();
  return a;
}

std::vector<ClassifierOutput> distributions(const Alert& alert, const ClassMap& map, const std::vector<std::string>& from) {
  std::vector<ClassifierOutput> out;
  auto wanted = [&](const Annotation& a) {
    return from.empty() || std::find(from.begin(), from.end(), a.provenance.actor) != from.end();
  };
  for (const Annotation* a : alert.annotations().list()) {
    const Provenance& p = a->provenance;
    if (p.actor_type == kForeignActorType || p.actor_type == "consensus") {
      if (p.actor_type == "consensus" && !wanted(*a)) continue;
      nlohmann::json d = nlohmann::json::parse(a->details, nullptr, false);
      if (!d.is_object() || !d.contains("classifications")) continue;
      ClassifierOutput o;
      if (p.actor_type == kForeignActorType) {
        o.broker = d.value("brokerName", p.actor);
        o.broker_version = d.value("brokerVersion", p.version);
        o.classifier = d.value("classifierName", "");
        o.params = d.value("classifierParams", "");
        if (d.contains("brokerIngestTimestamp") && d["brokerIngestTimestamp"].is_number_integer())
          o.ingest_timestamp_ms = d["brokerIngestTimestamp"].get<int64_t>();
      } else {
        o.broker = map.broker_name;
        o.broker_version = map.broker_version;
        o.classifier = "consensus " + p.actor + " " + p.version;
        o.params = nlohmann::json{{"rule", d.value("rule", "")}, {"inputs", d.value("inputs", nlohmann::json::array())}}.dump();
      }
      o.classes = classes_from_json(d["classifications"], alert_place(alert.core()));
      out.push_back(std::move(o));
      continue;
    }
    if (!wanted(*a)) continue;
    if (a->kind == Annotation::Kind::score && p.actor_type == "xgboost-score") {
      auto it = map.scores.find(a->name);
      if (it == map.scores.end() || !std::isfinite(a->value)) continue;
      float probability = static_cast<float>(std::clamp(a->value, 0.0, 1.0));
      ClassifierOutput o{map.broker_name, map.broker_version, p.actor + "/" + a->name + " " + p.version, "", {}, {}};
      nlohmann::json params{{"actor_type", p.actor_type}, {"model_hash", p.config_hash}};
      if (auto d = nlohmann::json::parse(a->details, nullptr, false); d.is_object())
        for (const char* key : {"model", "features"})
          if (d.contains(key)) params[key] = d[key];
      o.params = params.dump();
      o.classes = {{it->second, probability}, {elasticc::kResidual, 1.0f - probability}};
      out.push_back(std::move(o));
    } else if (a->kind == Annotation::Kind::classification && p.actor_type == "classify") {
      auto it = map.sherlock.find(a->name);
      int32_t id = it == map.sherlock.end() ? elasticc::kNotClassified : it->second;
      ClassifierOutput o{map.broker_name, map.broker_version, p.actor + " " + p.version, "", {{id, 1.0f}}, {}};
      nlohmann::json params{{"actor_type", p.actor_type}, {"rules_hash", p.config_hash}, {"sherlock_class", a->name}};
      if (auto d = nlohmann::json::parse(a->details, nullptr, false); d.is_object() && d.contains("rule")) params["rule"] = d["rule"];
      o.params = params.dump();
      out.push_back(std::move(o));
    }
  }
  return out;
}

}  // namespace ebs::exchange
