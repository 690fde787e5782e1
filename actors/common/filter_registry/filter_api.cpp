#include "actors/common/filter_registry/filter_api.h"

#include <nlohmann/json.hpp>

#include "engine/util/http_access.h"

namespace ebs::filter_registry {

namespace {

using nlohmann::json;

void send(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", "application/json");
}

json to_json(const Filter& f) {
  json outputs = json::array();
  for (size_t i = 0; i < f.outputs.size(); ++i) {
    const Output& o = f.outputs[i];
    json entry{{"kind", to_string(o.kind)}, {"target", o.target}};
    if (o.format != "json") entry["format"] = o.format;
    // The status: what the runs counted of this output (docs/filters.md, "Undelivered messages").
    const OutputCounts counts = i < f.output_counts.size() ? f.output_counts[i] : OutputCounts{};
    entry["delivered"] = counts.delivered;
    entry["dead_lettered"] = counts.dead_lettered;
    entry["lost"] = counts.lost;
    entry["rate_limited"] = counts.rate_limited;
    outputs.push_back(entry);
  }
  return {{"id", f.id},
          {"owner", f.owner},
          {"name", f.name},
          {"version", f.version},
          {"kind", to_string(f.kind)},
          {f.kind == Filter::Kind::sql ? "sql" : "where", f.expression},
          {"outputs", outputs},
          {"state", f.active ? "active" : "paused"},
          {"paused_reason", f.paused_reason}};
}

json to_json(const User& u) {
  return {{"name", u.name},
          {"admin", u.admin},
          {"limits",
           {{"filters", u.limits.max_filters},
            {"alerts_per_second", u.limits.max_alerts_per_second},
            {"expression_cost", u.limits.max_expression_cost},
            {"sql_filters", u.limits.max_sql_filters},
            {"sql_steps", u.limits.max_sql_steps}}}};
}

std::vector<Output> outputs_of(const json& list) {
  if (!list.is_array()) throw std::invalid_argument("'outputs' must be a list of {kind, target}");
  std::vector<Output> out;
  for (const json& o : list) {
    std::string kind = o.value("kind", "");
    Output::Kind k = kind == "kafka" ? Output::Kind::kafka : kind == "webhook" ? Output::Kind::webhook
                     : kind == "slack" ? Output::Kind::slack
                                       : throw std::invalid_argument("output kind must be kafka, webhook or slack, not '" + kind + "'");
    out.push_back({k, o.value("target", ""), o.value("format", "json")});
  }
  return out;
}

// A filter's condition in a request: `where` (an expression) or `sql` (a query); nullopt when
// neither is given.
std::optional<std::pair<std::string, Filter::Kind>> condition_of(const json& in) {
  if (in.contains("where") && in.contains("sql")) throw std::invalid_argument("give `where` or `sql`, not both");
  if (in.contains("sql")) return std::pair{in.at("sql").get<std::string>(), Filter::Kind::sql};
  if (in.contains("where")) return std::pair{in.at("where").get<std::string>(), Filter::Kind::expression};
  return std::nullopt;
}

// The limits `l` names (a user's creation: the others default; a change: the others kept), of
// {"filters", "alerts_per_second", "expression_cost", "sql_filters", "sql_steps"}. Another name is
// refused rather than ignored (a typo would otherwise change nothing, silently), and so is a value
// of another type than the limit's (an integer; alerts_per_second any number), rather than cut or
// converted (2.5 filters, `true`).
LimitsChange limits_of(const json& l) {
  if (!l.is_object()) throw std::invalid_argument("`limits` must be an object");
  LimitsChange change;
  for (const auto& [name, value] : l.items()) {
    if (name == "alerts_per_second") {
      if (!value.is_number()) throw std::invalid_argument("the limit `alerts_per_second` must be a number");
      change.max_alerts_per_second = value.get<double>();
      continue;
    }
    std::optional<int64_t>* limit = name == "filters"           ? &change.max_filters
                                    : name == "expression_cost" ? &change.max_expression_cost
                                    : name == "sql_filters"     ? &change.max_sql_filters
                                    : name == "sql_steps"       ? &change.max_sql_steps
                                                                : nullptr;
    if (!limit)
      throw std::invalid_argument("no limit '" + name +
                                  "' (limits: filters, alerts_per_second, expression_cost, sql_filters, sql_steps)");
    if (!value.is_number_integer()) throw std::invalid_argument("the limit `" + name + "` must be an integer");
    *limit = value.get<int64_t>();
  }
  return change;
}

template <typename T>
bool refused(httplib::Response& res, const Answer<T>& answer) {
  if (auto* r = std::get_if<Refusal>(&answer)) {
    send(res, r->status, {{"error", r->message}});
    return true;
  }
  return false;
}

std::optional<int64_t> id_of(const std::string& text) {
  try {
    size_t used = 0;
    int64_t id = std::stoll(text, &used);
    if (used == text.size()) return id;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string bearer(const httplib::Request& req) {
  std::string header = req.get_header_value("Authorization");
  return header.starts_with("Bearer ") ? header.substr(7) : std::string();
}

}  // namespace

bool FilterApi::owns(const std::string& path) {
  std::string p = path;
  while (p.starts_with("//")) p.erase(0, 1);
  return p.starts_with("/api/filters") || p.starts_with("/api/users");
}

void FilterApi::open(const std::string& registry_path) {
  std::lock_guard lock(mutex_);
  store_.reset();
  if (!registry_path.empty()) store_.emplace(registry_path);
}

template <class Body>
httplib::Server::Handler FilterApi::handler(Body body, bool admin_only) {
  return [this, body, admin_only](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    if (!store_) return send(res, 404, {{"error", "this server has no filter registry (a `filters` actor with `registry:`)"}});
    std::optional<User> user = store_->authenticate(bearer(req));
    if (!user) {
      res.set_header("WWW-Authenticate", "Bearer");
      return send(res, 401, {{"error", "the filter API needs 'Authorization: Bearer TOKEN' with a user's valid token"}});
    }
    if (admin_only && !user->admin) return send(res, 403, {{"error", "only an admin manages users and tokens"}});
    try {
      json in = req.body.empty() ? json::object() : json::parse(req.body);
      if (!in.is_object()) return send(res, 400, {{"error", "the body must be a JSON object"}});
      body(*store_, *user, req, in, res);
    } catch (const json::exception& e) {
      send(res, 400, {{"error", std::string("bad JSON: ") + e.what()}});
    } catch (const std::invalid_argument& e) {
      send(res, 400, {{"error", e.what()}});
    } catch (const Fault& f) {
      send(res, 500, {{"error", f.place() + ": " + f.message()}});
    }
  };
}

void FilterApi::add_routes(httplib::Server& server) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  auto with_id = [](Req req, Res res) -> std::optional<int64_t> {
    auto id = id_of(req.matches[1].str());
    if (!id) send(res, 400, {{"error", "filter id '" + req.matches[1].str() + "' is not a number"}});
    return id;
  };
  server.Get(http_access::route("/api/filters"), handler([](FilterRegistry& s, const User& u, Req, const json&, Res res) {
               json list = json::array();
               for (const Filter& f : s.filters(u)) list.push_back(to_json(f));
               send(res, 200, list);
             }, false));
  server.Post(http_access::route("/api/filters"), handler([](FilterRegistry& s, const User& u, Req, const json& in, Res res) {
                auto condition = condition_of(in).value_or(std::pair{std::string(), Filter::Kind::expression});
                auto answer = s.create_filter(u, in.value("name", ""), condition.first,
                                              outputs_of(in.value("outputs", json::array())), condition.second);
                if (!refused(res, answer)) send(res, 201, to_json(std::get<Filter>(answer)));
              }, false));
  server.Get(http_access::route(R"(/api/filters/([^/]+))"), handler([with_id](FilterRegistry& s, const User& u, Req req, const json&, Res res) {
               auto id = with_id(req, res);
               if (!id) return;
               auto answer = s.filter(u, *id);
               if (!refused(res, answer)) send(res, 200, to_json(std::get<Filter>(answer)));
             }, false));
  server.Put(http_access::route(R"(/api/filters/([^/]+))"), handler([with_id](FilterRegistry& s, const User& u, Req req, const json& in, Res res) {
               auto id = with_id(req, res);
               if (!id) return;
               auto condition = condition_of(in);
               std::optional<std::string> where;
               std::optional<std::vector<Output>> outputs;
               if (condition) where = condition->first;
               if (in.contains("outputs")) outputs = outputs_of(in.at("outputs"));
               if (!where && !outputs) return send(res, 400, {{"error", "give `where` (or `sql`) and/or `outputs`"}});
               auto answer = s.update_filter(u, *id, where, outputs,
                                             condition ? condition->second : Filter::Kind::expression);
               if (!refused(res, answer)) send(res, 200, to_json(std::get<Filter>(answer)));
             }, false));
  server.Post(http_access::route(R"(/api/filters/([^/]+)/(pause|resume))"),
              handler([with_id](FilterRegistry& s, const User& u, Req req, const json&, Res res) {
                auto id = with_id(req, res);
                if (!id) return;
                bool resume = req.matches[2] == "resume";
                auto answer = s.set_active(u, *id, resume, "paused by " + u.name);
                if (!refused(res, answer)) send(res, 200, to_json(std::get<Filter>(answer)));
              }, false));
  server.Delete(http_access::route(R"(/api/filters/([^/]+))"), handler([with_id](FilterRegistry& s, const User& u, Req req, const json&, Res res) {
                  auto id = with_id(req, res);
                  if (!id) return;
                  auto answer = s.remove_filter(u, *id);
                  if (!refused(res, answer)) send(res, 200, {{"removed", *id}});
                }, false));
  server.Get(http_access::route(R"(/api/filters/([^/]+)/effects)"),
             handler([with_id](FilterRegistry& s, const User& u, Req req, const json&, Res res) {
               auto id = with_id(req, res);
               if (!id) return;
               auto answer = s.filter(u, *id);
               if (refused(res, answer)) return;
               json list = json::array();
               for (const auto& e : s.effects(*id))
                 list.push_back({{"version", e.version}, {"instance", e.instance}, {"alert_sequence", e.sequence},
                                  {"source_sequence", e.source_sequence}, {"attempt", e.attempt}});
               send(res, 200, list);
             }, false));
  server.Get(http_access::route("/api/users"), handler([](FilterRegistry& s, const User&, Req, const json&, Res res) {
               json list = json::array();
               for (const User& u : s.users()) list.push_back(to_json(u));
               send(res, 200, list);
             }, true));
  server.Post(http_access::route("/api/users"), handler([](FilterRegistry& s, const User&, Req, const json& in, Res res) {
                Limits limits = limits_of(in.value("limits", json::object())).applied_to(Limits{});
                auto answer = s.create_user(in.value("name", ""), in.value("admin", false), limits);
                if (!refused(res, answer)) send(res, 201, to_json(std::get<User>(answer)));
              }, true));
  // A user's limits changed: only the ones named, the others kept.
  server.Patch(http_access::route(R"(/api/users/([^/]+))"), handler([](FilterRegistry& s, const User&, Req req, const json& in, Res res) {
                 if (!in.contains("limits")) return send(res, 400, {{"error", "give `limits`: {\"filters\": N, ...}"}});
                 auto answer = s.set_limits(req.matches[1], limits_of(in.at("limits")));
                 if (!refused(res, answer)) send(res, 200, to_json(std::get<User>(answer)));
               }, true));
  server.Delete(http_access::route(R"(/api/users/([^/]+))"), handler([](FilterRegistry& s, const User&, Req req, const json&, Res res) {
                  auto answer = s.remove_user(req.matches[1]);
                  if (!refused(res, answer)) send(res, 200, {{"removed", req.matches[1].str()}});
                }, true));
  server.Post(http_access::route(R"(/api/users/([^/]+)/tokens)"), handler([](FilterRegistry& s, const User&, Req req, const json& in, Res res) {
                auto answer = s.issue_token(req.matches[1], in.value("rotate", false));
                if (!refused(res, answer))
                  send(res, 201, {{"user", req.matches[1].str()}, {"token", std::get<std::string>(answer)},
                                  {"note", "shown once: only its SHA-256 is stored"}});
              }, true));
  server.Delete(http_access::route(R"(/api/users/([^/]+)/tokens)"), handler([](FilterRegistry& s, const User&, Req req, const json&, Res res) {
                  auto answer = s.revoke_tokens(req.matches[1]);
                  if (!refused(res, answer)) send(res, 200, {{"revoked", std::get<int64_t>(answer)}});
                }, true));
}

}  // namespace ebs::filter_registry
