#include "actors/common/filter_registry/filter_commands.h"

#include <httplib.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "actors/common/filter_registry/filter_registry.h"
#include "engine/util/percent_encoding.h"

namespace ebs::filter_registry {

namespace {

using nlohmann::json;

struct Connection {
  std::string url, token;
};

void add_connection_options(CLI::App& app, Connection& c) {
  if (const char* url = std::getenv("EBS_FILTERS_URL")) c.url = url;
  if (const char* token = std::getenv("EBS_FILTERS_TOKEN")) c.token = token;
  app.add_option("--url", c.url, "the service, e.g. http://127.0.0.1:8080 (default: $EBS_FILTERS_URL)");
  app.add_option("--token", c.token, "your token (default: $EBS_FILTERS_TOKEN)");
}

// Sends one request; prints the answer's JSON on stdout, or the error on stderr.
int call(const Connection& c, const std::string& method, const std::string& path, const json& body = nullptr) {
  if (c.url.empty()) {
    std::cerr << "--url: which service? (or set EBS_FILTERS_URL)\n";
    return exit_code::usage;
  }
  std::string base = c.url;
  while (base.ends_with("/")) base.pop_back();
  httplib::Client client(base);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers{{"Authorization", "Bearer " + c.token}};
  std::string text = body.is_null() ? std::string() : body.dump();
  httplib::Result result = method == "GET"    ? client.Get(path, headers)
                           : method == "POST" ? client.Post(path, headers, text, "application/json")
                           : method == "PUT"  ? client.Put(path, headers, text, "application/json")
                           : method == "PATCH" ? client.Patch(path, headers, text, "application/json")
                                               : client.Delete(path, headers);
  if (!result) {
    std::cerr << base << ": no answer (" << httplib::to_string(result.error()) << ")\n";
    return exit_code::failed;
  }
  json answer = json::parse(result->body, nullptr, false);
  if (result->status >= 300) {
    std::cerr << base << path << ": HTTP " << result->status << ": "
              << (answer.is_object() && answer.contains("error") ? answer["error"].get<std::string>() : result->body) << "\n";
    return exit_code::failed;
  }
  if (answer.is_array())
    for (const json& item : answer) std::cout << item.dump() << "\n";
  else
    std::cout << answer.dump() << "\n";
  return exit_code::ok;
}

struct OutputOptions {
  std::vector<std::string> kafka, kafka_avro, kafka_confluent, webhook, slack;
  void add(CLI::App& app) {
    app.add_option("--kafka", kafka, "a Kafka topic of yours (repeatable)");
    app.add_option("--kafka-avro", kafka_avro,
                   "a Kafka topic of yours, as Avro (schemas/ebs_alert.avsc, one container per alert; repeatable)");
    app.add_option("--kafka-confluent", kafka_confluent,
                   "a Kafka topic of yours, as Confluent-framed Avro (the schema registered as TOPIC-value in the "
                   "service's schema registry; repeatable)");
    app.add_option("--webhook", webhook, "a URL to POST each alert to as JSON (repeatable)");
    app.add_option("--slack", slack, "a Slack incoming-webhook URL (repeatable)");
  }
  json list() const {
    json out = json::array();
    for (const auto& t : kafka) out.push_back({{"kind", "kafka"}, {"target", t}});
    for (const auto& t : kafka_avro) out.push_back({{"kind", "kafka"}, {"target", t}, {"format", "avro"}});
    for (const auto& t : kafka_confluent) out.push_back({{"kind", "kafka"}, {"target", t}, {"format", "avro-confluent"}});
    for (const auto& t : webhook) out.push_back({{"kind", "webhook"}, {"target", t}});
    for (const auto& t : slack) out.push_back({{"kind", "slack"}, {"target", t}});
    return out;
  }
};

void register_id_command(CommandRegistry& commands, const std::string& name, const std::string& description,
                         const std::string& method, const std::string& suffix) {
  commands.add("filters " + name, description, [method, suffix](CLI::App& app) -> CommandRegistry::Runner {
    struct Options {
      Connection connection;
      int64_t id = 0;
    };
    auto o = std::make_shared<Options>();
    app.add_option("id", o->id, "the filter's id (`filters list`)")->required();
    add_connection_options(app, o->connection);
    return [o, method, suffix] { return call(o->connection, method, "/api/filters/" + std::to_string(o->id) + suffix); };
  });
}

}  // namespace

void register_filter_commands(CommandRegistry& commands) {
  commands.describe_group("filters", "Users' filters in a running filter service (docs/filters.md)");

  commands.add("filters add", "Create a filter with its outputs", [](CLI::App& app) -> CommandRegistry::Runner {
    struct Options {
      Connection connection;
      std::string name, where, sql;
      OutputOptions outputs;
    };
    auto o = std::make_shared<Options>();
    app.add_option("name", o->name, "its name (unique among yours)")->required();
    auto* where = app.add_option("where", o->where, "the condition, as `filter` takes (docs/expressions.md)");
    auto* sql = app.add_option("--sql", o->sql,
                               "instead of a condition: one SELECT over the service's repository, as `sql-filter` "
                               "takes (an alert passes when it returns a row; :object_id, :mag, ... bind the alert)");
    where->excludes(sql);
    sql->excludes(where);
    o->outputs.add(app);
    add_connection_options(app, o->connection);
    return [o, where, sql] {
      if (where->count() == 0 && sql->count() == 0) {
        std::cerr << "give the filter's condition, or --sql QUERY\n";
        return exit_code::usage;
      }
      json body{{"name", o->name}, {"outputs", o->outputs.list()}};
      if (sql->count() > 0)
        body["sql"] = o->sql;
      else
        body["where"] = o->where;
      return call(o->connection, "POST", "/api/filters", body);
    };
  });

  commands.add("filters list", "Your filters (an admin's: everyone's)", [](CLI::App& app) -> CommandRegistry::Runner {
    auto c = std::make_shared<Connection>();
    add_connection_options(app, *c);
    return [c] { return call(*c, "GET", "/api/filters"); };
  });

  commands.add("filters update", "A new version of a filter: its condition and/or outputs", [](CLI::App& app) -> CommandRegistry::Runner {
    struct Options {
      Connection connection;
      int64_t id = 0;
      std::string where, sql;
      OutputOptions outputs;
    };
    auto o = std::make_shared<Options>();
    app.add_option("id", o->id, "the filter's id")->required();
    auto* where = app.add_option("--where", o->where, "the new condition");
    app.add_option("--sql", o->sql, "the new query (of an SQL filter)")->excludes(where);
    o->outputs.add(app);
    add_connection_options(app, o->connection);
    return [o] {
      json body = json::object();
      if (!o->where.empty()) body["where"] = o->where;
      if (!o->sql.empty()) body["sql"] = o->sql;
      if (!o->outputs.list().empty()) body["outputs"] = o->outputs.list();
      return call(o->connection, "PUT", "/api/filters/" + std::to_string(o->id), body);
    };
  });

  register_id_command(commands, "pause", "Pause a filter (it stops at a batch boundary)", "POST", "/pause");
  register_id_command(commands, "resume", "Resume a paused filter", "POST", "/resume");
  register_id_command(commands, "rm", "Delete a filter", "DELETE", "");

  commands.add("filters user add", "Create a user in the store (local: whoever holds the file); prints a first token",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 struct Options {
                   std::string registry, name;
                   bool admin = false;
                   Limits limits;
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("name", o->name, "the user's name")->required();
                 app.add_option("--registry", o->registry, "the store (the `filters` actor's `registry:`)")->required();
                 app.add_flag("--admin", o->admin, "an admin: manages users and tokens, sees every filter");
                 app.add_option("--max-filters", o->limits.max_filters, "filters the user may have")->capture_default_str();
                 app.add_option("--max-rate", o->limits.max_alerts_per_second, "alerts/s per output")->capture_default_str();
                 app.add_option("--max-cost", o->limits.max_expression_cost, "nodes per expression")->capture_default_str();
                 app.add_option("--max-sql-filters", o->limits.max_sql_filters, "SQL filters the user may have")
                     ->capture_default_str();
                 app.add_option("--max-sql-steps", o->limits.max_sql_steps,
                                "SQLite steps one alert's query of the user's SQL filters may take (0: only the "
                                "service's `sql_step_limit`)")
                     ->capture_default_str();
                 return [o] {
                   FilterRegistry store(o->registry);
                   auto user = store.create_user(o->name, o->admin, o->limits);
                   if (auto* r = std::get_if<Refusal>(&user)) {
                     std::cerr << o->registry << ": " << r->message << "\n";
                     return exit_code::failed;
                   }
                   std::string token = std::get<std::string>(store.issue_token(o->name, false));
                   std::cout << json{{"user", o->name}, {"admin", o->admin}, {"token", token}}.dump() << "\n";
                   return exit_code::ok;
                 };
               });

  commands.add("filters user set",
               "Change a user's limits (the ones given; the others kept): in the store (--registry, local) or "
               "through the service (--url, an admin's --token)",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 struct Options {
                   Connection connection;
                   std::string registry, name;
                   Limits limits;  // the values read; only those given change
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("name", o->name, "the user's name")->required();
                 auto* registry = app.add_option("--registry", o->registry, "the store, changed in place (local)");
                 add_connection_options(app, o->connection);
                 Limits& l = o->limits;
                 auto* filters = app.add_option("--max-filters", l.max_filters, "filters the user may have");
                 auto* rate = app.add_option("--max-rate", l.max_alerts_per_second, "alerts/s per output");
                 auto* cost = app.add_option("--max-cost", l.max_expression_cost, "nodes per expression");
                 auto* sql_filters = app.add_option("--max-sql-filters", l.max_sql_filters, "SQL filters the user may have");
                 auto* sql_steps = app.add_option("--max-sql-steps", l.max_sql_steps,
                                                  "SQLite steps one alert's query of the user's SQL filters may take (0: "
                                                  "only the service's `sql_step_limit`)");
                 return [o, registry, filters, rate, cost, sql_filters, sql_steps] {
                   const Limits& l = o->limits;
                   LimitsChange change;
                   if (filters->count() > 0) change.max_filters = l.max_filters;
                   if (rate->count() > 0) change.max_alerts_per_second = l.max_alerts_per_second;
                   if (cost->count() > 0) change.max_expression_cost = l.max_expression_cost;
                   if (sql_filters->count() > 0) change.max_sql_filters = l.max_sql_filters;
                   if (sql_steps->count() > 0) change.max_sql_steps = l.max_sql_steps;
                   if (change.empty()) {
                     std::cerr << "which limits? --max-filters, --max-rate, --max-cost, --max-sql-filters, --max-sql-steps\n";
                     return exit_code::usage;
                   }
                   if (registry->count() == 0) {
                     // The API's names, for the ones given.
                     json limits = json::object();
                     if (change.max_filters) limits["filters"] = *change.max_filters;
                     if (change.max_alerts_per_second) limits["alerts_per_second"] = *change.max_alerts_per_second;
                     if (change.max_expression_cost) limits["expression_cost"] = *change.max_expression_cost;
                     if (change.max_sql_filters) limits["sql_filters"] = *change.max_sql_filters;
                     if (change.max_sql_steps) limits["sql_steps"] = *change.max_sql_steps;
                     return call(o->connection, "PATCH", "/api/users/" + percent_encoded(o->name), json{{"limits", limits}});
                   }
                   FilterRegistry store(o->registry);
                   auto answer = store.set_limits(o->name, change);
                   if (auto* r = std::get_if<Refusal>(&answer)) {
                     std::cerr << o->registry << ": " << r->message << "\n";
                     return exit_code::failed;
                   }
                   const Limits& now = std::get<User>(answer).limits;
                   std::cout << json{{"name", o->name},
                                     {"limits",
                                      {{"filters", now.max_filters},
                                       {"alerts_per_second", now.max_alerts_per_second},
                                       {"expression_cost", now.max_expression_cost},
                                       {"sql_filters", now.max_sql_filters},
                                       {"sql_steps", now.max_sql_steps}}}}
                                    .dump()
                             << "\n";
                   return exit_code::ok;
                 };
               });

  commands.add("filters token", "Issue (or, with --rotate, rotate) a user's token in the store (local)",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 struct Options {
                   std::string registry, name;
                   bool rotate = false;
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("name", o->name, "the user's name")->required();
                 app.add_option("--registry", o->registry, "the store")->required();
                 app.add_flag("--rotate", o->rotate, "revoke the user's earlier tokens");
                 return [o] {
                   FilterRegistry store(o->registry);
                   auto token = store.issue_token(o->name, o->rotate);
                   if (auto* r = std::get_if<Refusal>(&token)) {
                     std::cerr << o->registry << ": " << r->message << "\n";
                     return exit_code::failed;
                   }
                   std::cout << json{{"user", o->name}, {"token", std::get<std::string>(token)}}.dump() << "\n";
                   return exit_code::ok;
                 };
               });
}

}  // namespace ebs::filter_registry
