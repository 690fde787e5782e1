#include "actors/common/filter_registry/switch_store.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/cluster/coordinator_requests.h"
#include "engine/graph/actor_config.h"
#include "engine/graph/workflow.h"
#include "engine/util/fault.h"

namespace ebs::filter_registry {

namespace {

using nlohmann::json;

constexpr const char* kService = "filters";

json to_json(const Output& o) { return {{"kind", to_string(o.kind)}, {"target", o.target}, {"format", o.format}}; }

Output output_of(const json& j) {
  const auto kind = j.at("kind").get<std::string>();
  return {kind == "webhook" ? Output::Kind::webhook : kind == "slack" ? Output::Kind::slack : Output::Kind::kafka,
          j.at("target").get<std::string>(), j.at("format").get<std::string>()};
}

json to_json(const Filter& f) {
  json outputs = json::array();
  for (const Output& o : f.outputs) outputs.push_back(to_json(o));
  return {{"id", f.id},           {"owner", f.owner},     {"owner_id", f.owner_id},      {"name", f.name},
          {"version", f.version}, {"kind", to_string(f.kind)}, {"expression", f.expression}, {"outputs", outputs},
          {"active", f.active},   {"paused_reason", f.paused_reason}};
}

Filter filter_of(const json& j) {
  Filter f;
  f.id = j.at("id").get<int64_t>();
  f.owner = j.at("owner").get<std::string>();
  f.owner_id = j.at("owner_id").get<int64_t>();
  f.name = j.at("name").get<std::string>();
  f.version = j.at("version").get<int64_t>();
  f.kind = j.at("kind").get<std::string>() == "sql" ? Filter::Kind::sql : Filter::Kind::expression;
  f.expression = j.at("expression").get<std::string>();
  for (const json& o : j.at("outputs")) f.outputs.push_back(output_of(o));
  f.active = j.at("active").get<bool>();
  f.paused_reason = j.at("paused_reason").get<std::string>();
  return f;
}

class LocalStore final : public SwitchStore {
 public:
  LocalStore(const std::string& path, std::string run) : store_(path), run_(std::move(run)) {}
  std::string describe() const override { return store_.path(); }
  Claim claim(int64_t instance, int64_t batch, int64_t through, int64_t known_revision) override {
    return store_.claim(run_, instance, through, known_revision, batch);
  }
  int64_t attempt() const override { return kFirstAttempt; }
  void record_effects(int64_t instance, int64_t revision, const std::vector<FilterRegistry::Effect>& effects) override {
    store_.record_effects(run_, instance, revision, effects);
  }
  void pause_for_failures(const std::map<int64_t, std::string>& reasons) override { store_.pause_for_failures(reasons); }
  void add_output_counts(const std::vector<FilterRegistry::CountsAdded>& counts) override {
    store_.add_output_counts(counts);
  }
  bool remote() const override { return false; }

 private:
  FilterRegistry store_;
  std::string run_;
};

// Each call is one request to the coordinator, answered there by serve() on its store.
class CoordinatorStore final : public SwitchStore {
 public:
  CoordinatorStore(const cluster::CoordinatorRequests& requests, std::string actor)
      : requests_(requests), actor_(std::move(actor)) {
    path_ = ask({{"op", "path"}}).get<std::string>();
  }
  std::string describe() const override { return "the coordinator's " + path_; }
  Claim claim(int64_t instance, int64_t batch, int64_t through, int64_t known_revision) override {
    const json answer = ask({{"op", "claim"}, {"instance", instance}, {"batch", batch}, {"source_sequence", through},
                             {"known_revision", known_revision}});
    Claim out;
    out.claimed_through = answer.at("claimed_through").get<int64_t>();
    out.applied_revision = answer.at("applied_revision").get<int64_t>();
    out.skipped = answer.at("skipped").get<int64_t>();
    out.next_point = answer.at("next_point").get<int64_t>();
    for (const json& p : answer.at("points")) {
      SwitchPoint point{p.at("revision").get<int64_t>(), p.at("sequence").get<int64_t>(), {}, {}};
      for (const json& f : p.at("filters")) point.filters.push_back(filter_of(f));
      for (const auto& [owner, l] : p.at("limits").items())
        point.limits[owner] = {l.at(0).get<double>(), l.at(1).get<int64_t>()};
      out.points.push_back(std::move(point));
    }
    return out;
  }
  int64_t attempt() const override { return static_cast<int64_t>(requests_.attempt()); }
  void record_effects(int64_t instance, int64_t revision, const std::vector<FilterRegistry::Effect>& effects) override {
    // Without their attempt: the coordinator logs them under the attempt the request is of.
    json list = json::array();
    for (const FilterRegistry::Effect& e : effects)
      list.push_back({e.filter_id, e.version, e.instance, e.sequence, e.source_sequence});
    ask({{"op", "effects"}, {"instance", instance}, {"revision", revision}, {"effects", list}});
  }
  void pause_for_failures(const std::map<int64_t, std::string>& reasons) override {
    json list = json::array();
    for (const auto& [id, reason] : reasons) list.push_back({id, reason});
    ask({{"op", "pause"}, {"filters", list}});
  }
  void add_output_counts(const std::vector<FilterRegistry::CountsAdded>& counts) override {
    json list = json::array();
    for (const FilterRegistry::CountsAdded& c : counts)
      list.push_back(
          {c.filter_id, to_json(c.output), c.added.delivered, c.added.dead_lettered, c.added.lost, c.added.rate_limited});
    ask({{"op", "counts"}, {"outputs", list}});
  }
  bool remote() const override { return true; }

 private:
  json ask(json request) {
    request["actor"] = actor_;
    // A pause's reason quotes a webhook's answer, cut at a byte count: not always valid UTF-8,
    // which dump() would throw on (in one process SQLite takes the bytes as they are).
    return json::parse(requests_.ask(kService, request.dump(-1, ' ', false, json::error_handler_t::replace)))
        .at("answer");
  }

  const cluster::CoordinatorRequests& requests_;
  std::string actor_;
  std::string path_;
};

// One request on the store of the actor's registry (opened once per path), of the run's attempt `attempt`.
json serve(FilterRegistry& store, const std::string& run, int64_t attempt, const json& in) {
  const auto op = in.at("op").get<std::string>();
  if (op == "path") return store.path();
  if (op == "claim") {
    const Claim claim = store.claim(run, in.at("instance").get<int64_t>(), in.at("source_sequence").get<int64_t>(),
                                    in.at("known_revision").get<int64_t>(), in.at("batch").get<int64_t>());
    json points = json::array();
    for (const SwitchPoint& p : claim.points) {
      json filters = json::array();
      for (const Filter& f : p.filters) filters.push_back(to_json(f));
      json limits = json::object();  // as recorded with the point, not the store's of now
      for (const auto& [owner, l] : p.limits) limits[owner] = {l.max_alerts_per_second, l.max_sql_steps};
      points.push_back({{"revision", p.revision}, {"sequence", p.sequence}, {"filters", filters}, {"limits", limits}});
    }
    return {{"points", points},
            {"claimed_through", claim.claimed_through},
            {"applied_revision", claim.applied_revision},
            {"skipped", claim.skipped},
            {"next_point", claim.next_point}};
  }
  if (op == "effects") {
    std::vector<FilterRegistry::Effect> effects;
    for (const json& e : in.at("effects"))
      effects.push_back({e.at(0).get<int64_t>(), e.at(1).get<int64_t>(), e.at(2).get<std::string>(),
                         e.at(3).get<int64_t>(), e.at(4).get<int64_t>(), attempt});
    store.record_effects(run, in.at("instance").get<int64_t>(), in.at("revision").get<int64_t>(), effects);
    return nullptr;
  }
  if (op == "pause") {
    std::map<int64_t, std::string> reasons;
    for (const json& p : in.at("filters")) reasons[p.at(0).get<int64_t>()] = p.at(1).get<std::string>();
    store.pause_for_failures(reasons);
    return nullptr;
  }
  if (op == "counts") {
    std::vector<FilterRegistry::CountsAdded> counts;
    // Six fields each since protocol revision 13 (rate_limited): a node of an earlier build, which
    // sent five, is refused at the handshake (kClusterProtocolRevision).
    for (const json& c : in.at("outputs"))
      counts.push_back({c.at(0).get<int64_t>(), output_of(c.at(1)),
                        {c.at(2).get<int64_t>(), c.at(3).get<int64_t>(), c.at(4).get<int64_t>(), c.at(5).get<int64_t>()}});
    store.add_output_counts(counts);
    return nullptr;
  }
  fail("filter registry", "the coordinator does not know the request '" + op + "'");
}

}  // namespace

std::unique_ptr<SwitchStore> local_switch_store(const std::string& path, std::string run) {
  return std::make_unique<LocalStore>(path, std::move(run));
}

std::unique_ptr<SwitchStore> coordinator_switch_store(const cluster::CoordinatorRequests& requests,
                                                      std::string actor_id) {
  return std::make_unique<CoordinatorStore>(requests, std::move(actor_id));
}

void serve_switch_stores(cluster::CoordinatorRequests& requests) {
  // The server answers one request at a time: the stores need no lock of their own.
  auto stores = std::make_shared<std::map<std::string, std::unique_ptr<FilterRegistry>>>();
  requests.serve(kService, [stores](const Workflow& workflow, const std::string& run, uint64_t attempt,
                                    const std::string& text) {
    const json in = json::parse(text);
    const auto actor = in.at("actor").get<std::string>();
    auto spec = std::find_if(workflow.actors.begin(), workflow.actors.end(),
                             [&](const ActorSpec& s) { return s.id == actor; });
    if (spec == workflow.actors.end() || !spec->type || !spec->config_node["registry"])
      fail("filter registry", "the run has no `filters` actor '" + actor + "' with a `registry`");
    const std::string path = ActorConfig(spec->config_node, spec->file, &spec->type->config).input_path("registry");
    auto& store = (*stores)[path];
    if (!store) store = std::make_unique<FilterRegistry>(path);
    // The instances of one actor in one attempt share their switch points, on whatever node.
    return json{{"answer", serve(*store, actor + "@" + run, static_cast<int64_t>(attempt), in)}}.dump(-1, ' ', false, json::error_handler_t::replace);
  });
}

}  // namespace ebs::filter_registry
