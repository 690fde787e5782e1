#include "actors/common/filter_registry/filter_registry.h"

#include <openssl/rand.h>

#include <algorithm>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/common/repository/alert_query.h"
#include "engine/expr/parser.h"
#include "engine/expr/program.h"
#include "engine/util/hash.h"
#include "engine/util/sha256.h"

namespace ebs::filter_registry {

namespace {

// The first layout (store version 0); migrate() brings it, and any store made with it, to
// kStoreVersion.
constexpr const char* kSchema = R"sql(
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, admin INTEGER NOT NULL,
  max_filters INTEGER NOT NULL, max_alerts_per_second REAL NOT NULL, max_expression_cost INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
  sha256 TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued TEXT NOT NULL DEFAULT (datetime('now')), revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS filters(
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL, version INTEGER NOT NULL, active INTEGER NOT NULL, paused_reason TEXT NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS filters_by_name ON filters(user_id, name) WHERE removed = 0;
CREATE TABLE IF NOT EXISTS filter_versions(
  filter_id INTEGER NOT NULL REFERENCES filters(id) ON DELETE CASCADE, version INTEGER NOT NULL,
  expression TEXT NOT NULL, outputs TEXT NOT NULL, created TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY(filter_id, version));
CREATE TABLE IF NOT EXISTS filter_effects(
  filter_id INTEGER NOT NULL, version INTEGER NOT NULL, instance TEXT NOT NULL, alert_sequence INTEGER NOT NULL,
  logged TEXT NOT NULL DEFAULT (datetime('now')));
CREATE TABLE IF NOT EXISTS revision(n INTEGER NOT NULL);
INSERT INTO revision SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM revision);
CREATE TABLE IF NOT EXISTS switch_claims(
  run TEXT NOT NULL, instance INTEGER NOT NULL, source_sequence INTEGER NOT NULL, PRIMARY KEY(run, instance));
CREATE TABLE IF NOT EXISTS switch_points(
  run TEXT NOT NULL, revision INTEGER NOT NULL, source_sequence INTEGER NOT NULL, PRIMARY KEY(run, revision));
CREATE TABLE IF NOT EXISTS switch_filters(
  run TEXT NOT NULL, revision INTEGER NOT NULL, filter_id INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS switch_limits(
  run TEXT NOT NULL, revision INTEGER NOT NULL, user_id INTEGER NOT NULL, max_alerts_per_second REAL NOT NULL,
  max_sql_steps INTEGER NOT NULL);
)sql";

constexpr const char* kFilterColumns =
    "SELECT f.id, u.name, u.id, f.name, f.version, v.expression, v.outputs, f.active, f.paused_reason, v.kind "
    "FROM filters f JOIN users u ON u.id = f.user_id "
    "JOIN filter_versions v ON v.filter_id = f.id AND v.version = f.version WHERE f.removed = 0";

std::string new_token() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) fail("filter registry", "no random bytes for a token (OpenSSL RAND_bytes)");
  return "ebs_" + lowercase_hex(bytes, sizeof bytes);
}

std::string outputs_json(const std::vector<Output>& outputs) {
  nlohmann::json list = nlohmann::json::array();
  for (const Output& o : outputs) {
    nlohmann::json entry{{"kind", to_string(o.kind)}, {"target", o.target}};
    if (o.format != "json") entry["format"] = o.format;
    list.push_back(entry);
  }
  return list.dump();
}

std::vector<Output> outputs_from_json(std::string_view text) {
  std::vector<Output> out;
  for (const auto& o : nlohmann::json::parse(text)) {
    std::string kind = o.at("kind");
    out.push_back({kind == "webhook" ? Output::Kind::webhook : kind == "slack" ? Output::Kind::slack : Output::Kind::kafka,
                   o.at("target"), o.value("format", "json")});
  }
  return out;
}

int count_nodes(const expr::Node& node) {
  int n = 1;
  for (const auto& child : node.children) n += count_nodes(*child);
  return n;
}

User read_user(sqlite::Statement& s) {
  return {s.integer(0), std::string(s.text(1)), s.integer(2) != 0,
          {s.integer(3), s.number(4), s.integer(5), s.integer(6), s.integer(7)}};
}

constexpr const char* kUserColumns =
    "SELECT id, name, admin, max_filters, max_alerts_per_second, max_expression_cost, max_sql_filters, max_sql_steps "
    "FROM users";

Filter::Kind kind_named(std::string_view name) { return name == "sql" ? Filter::Kind::sql : Filter::Kind::expression; }

// The Kafka topics of some outputs, each once.
std::set<std::string> kafka_topics(const std::vector<Output>& outputs) {
  std::set<std::string> topics;
  for (const Output& o : outputs)
    if (o.kind == Output::Kind::kafka) topics.insert(o.target);
  return topics;
}

}  // namespace

std::string_view to_string(Output::Kind kind) {
  switch (kind) {
    case Output::Kind::kafka: return "kafka";
    case Output::Kind::webhook: return "webhook";
    case Output::Kind::slack: return "slack";
  }
  return "?";
}

bool LimitsChange::empty() const {
  return !max_filters && !max_alerts_per_second && !max_expression_cost && !max_sql_filters && !max_sql_steps;
}

Limits LimitsChange::applied_to(Limits limits) const {
  limits.max_filters = max_filters.value_or(limits.max_filters);
  limits.max_alerts_per_second = max_alerts_per_second.value_or(limits.max_alerts_per_second);
  limits.max_expression_cost = max_expression_cost.value_or(limits.max_expression_cost);
  limits.max_sql_filters = max_sql_filters.value_or(limits.max_sql_filters);
  limits.max_sql_steps = max_sql_steps.value_or(limits.max_sql_steps);
  return limits;
}

std::string_view to_string(Filter::Kind kind) { return kind == Filter::Kind::sql ? "sql" : "expression"; }

std::variant<int64_t, std::string> expression_cost(const std::string& expression) {
  auto compiled = expr::Program::compile(expression);
  if (auto* errors = std::get_if<std::vector<expr::CompileError>>(&compiled)) return expr::describe(expression, *errors);
  return static_cast<int64_t>(count_nodes(*expr::parse(expression).root));
}

FilterRegistry::FilterRegistry(const std::string& path) : db_(path, sqlite::Database::Mode::read_write, 5000) {
  db_.execute("PRAGMA journal_mode = WAL");
  db_.execute(kSchema);
  migrate();
}

void FilterRegistry::migrate() {
  sqlite::Transaction t(db_);  // the API and the actor's instances may open one store together
  // Stores made before switch points were agreed between instances log no source sequence.
  if (db_.scalar("SELECT count(*) FROM pragma_table_info('filter_effects') WHERE name = 'source_sequence'") == 0)
    db_.execute("ALTER TABLE filter_effects ADD COLUMN source_sequence INTEGER NOT NULL DEFAULT -1");
  // Nor the switch point each instance applied, which a failover's replacement resumes from. Added
  // without a new layout: switch claims belong to one run, none made before is read again.
  if (db_.scalar("SELECT count(*) FROM pragma_table_info('switch_claims') WHERE name = 'applied_revision'") == 0)
    db_.execute("ALTER TABLE switch_claims ADD COLUMN applied_revision INTEGER NOT NULL DEFAULT -1");
  // The outputs' counts (the API's status): added without a new layout, an older ebs-flow leaves
  // the table alone. Bounded: one row per output a filter ever had.
  db_.execute(
      "CREATE TABLE IF NOT EXISTS output_counts(filter_id INTEGER NOT NULL REFERENCES filters(id) ON DELETE CASCADE, "
      "kind TEXT NOT NULL, target TEXT NOT NULL, format TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, "
      "dead_lettered INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0, "
      "rate_limited INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(filter_id, kind, target, format))");
  // Nor the messages dropped at the owner's rate limit, counted since.
  if (db_.scalar("SELECT count(*) FROM pragma_table_info('output_counts') WHERE name = 'rate_limited'") == 0)
    db_.execute("ALTER TABLE output_counts ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0");
  const int64_t version = db_.scalar("PRAGMA user_version");
  if (version > kStoreVersion)
    fail(db_.path(), "a filter store of layout version " + std::to_string(version) + ", newer than this ebs-flow's (" +
                         std::to_string(kStoreVersion) + ")");
  if (version < 1) {
    // Every filter stored before was an expression.
    db_.execute("ALTER TABLE filter_versions ADD COLUMN kind TEXT NOT NULL DEFAULT 'expression'");
    db_.execute("ALTER TABLE users ADD COLUMN max_sql_filters INTEGER NOT NULL DEFAULT " +
                std::to_string(Limits{}.max_sql_filters));
  }
  if (version < 2)  // every user had the service's limit, the default's
    db_.execute("ALTER TABLE users ADD COLUMN max_sql_steps INTEGER NOT NULL DEFAULT " +
                std::to_string(Limits{}.max_sql_steps));
  // The effects logged before say nothing of their attempt: a restart's entries among them are told
  // apart from the first attempt's only by their order, so they are not all claimed to be attempt 1.
  if (version < 3)
    db_.execute("ALTER TABLE filter_effects ADD COLUMN attempt INTEGER NOT NULL DEFAULT " +
                std::to_string(kAttemptNotRecorded));
  if (version < 4) {
    // Topics (docs/filters.md, "Topics"): a user's, or reserved for the workflow's own writers.
    db_.execute(
        "CREATE TABLE IF NOT EXISTS topic_owners(topic TEXT PRIMARY KEY, "
        "user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, since TEXT NOT NULL DEFAULT (datetime('now')));"
        "CREATE TABLE IF NOT EXISTS reserved_topics(topic TEXT NOT NULL, reserved_by TEXT NOT NULL, "
        "PRIMARY KEY(topic, reserved_by))");
    // The topics the filters of an older store already name belong to the user whose filter
    // (removed ones aside, paused ones too) named it first; another user's filters already naming
    // it keep running as they are, but a new version or a resume naming it is refused.
    auto s = db_.prepare(
        "SELECT f.id, f.user_id, u.name, v.outputs FROM filters f JOIN users u ON u.id = f.user_id "
        "JOIN filter_versions v ON v.filter_id = f.id AND v.version = f.version WHERE f.removed = 0 ORDER BY f.id");
    std::map<std::string, std::pair<int64_t, std::string>> owners;  // topic -> user id, name
    // OR IGNORE: a row already there (an earlier ebs-flow of this branch) keeps its owner.
    auto insert = db_.prepare("INSERT OR IGNORE INTO topic_owners(topic, user_id) VALUES(?, ?)");
    while (s.step())
      for (const std::string& topic : kafka_topics(outputs_from_json(s.text(3)))) {
        auto [it, first] = owners.try_emplace(topic, s.integer(1), std::string(s.text(2)));
        if (first) {
          insert.reset();
          insert.bind(1, topic).bind(2, s.integer(1));
          insert.run();
        } else if (it->second.first != s.integer(1)) {
          spdlog::warn("{}: the Kafka topic '{}' is named by filters of '{}' (its owner: the first to name it) and of "
                       "'{}' (filter {}): the latter's keep running, a new version or a resume naming it is refused",
                       db_.path(), topic, it->second.second, s.text(2), s.integer(0));
        }
      }
  }
  db_.execute("PRAGMA user_version = " + std::to_string(kStoreVersion));
  t.commit();
}

void FilterRegistry::bump_revision() { db_.execute("UPDATE revision SET n = n + 1"); }

int64_t FilterRegistry::revision() const { return db_.scalar("SELECT n FROM revision"); }

namespace {

// What is wrong with a user's limits, if anything: the same check when a user is created and when
// their limits change.
std::optional<Refusal> limits_problem(const Limits& limits) {
  if (limits.max_sql_steps < 0) return Refusal{400, "the limit on SQL steps must not be negative (0: no limit of the user's own)"};
  const std::pair<const char*, double> others[] = {
      {"filters", static_cast<double>(limits.max_filters)},
      {"alerts_per_second", limits.max_alerts_per_second},
      {"expression_cost", static_cast<double>(limits.max_expression_cost)},
      {"sql_filters", static_cast<double>(limits.max_sql_filters)},
  };
  for (const auto& [limit, value] : others)
    if (!(value >= 0)) return Refusal{400, std::string("the limit `") + limit + "` must not be negative"};
  return std::nullopt;
}

}  // namespace

Answer<User> FilterRegistry::create_user(const std::string& name, bool admin, const Limits& limits) {
  if (name.empty() || name.find_first_of(" /\t\n") != std::string::npos)
    return Refusal{400, "a user name is one word without '/': '" + name + "'"};
  if (auto problem = limits_problem(limits)) return *problem;
  auto exists = db_.prepare("SELECT 1 FROM users WHERE name = ?");
  exists.bind(1, name);
  if (exists.step()) return Refusal{409, "the user '" + name + "' exists"};
  auto insert = db_.prepare(
      "INSERT INTO users(name, admin, max_filters, max_alerts_per_second, max_expression_cost, max_sql_filters, "
      "max_sql_steps) VALUES(?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, name).bind(2, int64_t{admin}).bind(3, limits.max_filters).bind(4, limits.max_alerts_per_second)
      .bind(5, limits.max_expression_cost).bind(6, limits.max_sql_filters).bind(7, limits.max_sql_steps);
  insert.run();
  return User{sqlite3_last_insert_rowid(db_.get()), name, admin, limits};
}

Answer<User> FilterRegistry::set_limits(const std::string& name, const LimitsChange& change) {
  sqlite::Transaction t(db_);  // BEGIN IMMEDIATE: no other change between the read and the write
  auto current = db_.prepare(std::string(kUserColumns) + " WHERE name = ?");
  current.bind(1, name);
  if (!current.step()) return Refusal{404, "no user '" + name + "'"};  // first: an unknown user is that, whatever the body
  // Nothing to change would still make a revision (a switch point in every running actor) for nothing.
  if (change.empty())
    return Refusal{400, "no limit to change: name one or more of filters, alerts_per_second, expression_cost, "
                        "sql_filters, sql_steps"};
  User user = read_user(current);
  user.limits = change.applied_to(user.limits);
  if (auto problem = limits_problem(user.limits)) return *problem;
  const Limits& l = user.limits;
  auto update = db_.prepare(
      "UPDATE users SET max_filters = ?, max_alerts_per_second = ?, max_expression_cost = ?, max_sql_filters = ?, "
      "max_sql_steps = ? WHERE id = ?");
  update.bind(1, l.max_filters).bind(2, l.max_alerts_per_second).bind(3, l.max_expression_cost)
      .bind(4, l.max_sql_filters).bind(5, l.max_sql_steps).bind(6, user.id);
  update.run();
  bump_revision();  // a running `filters` actor applies them from the switch point this makes
  t.commit();
  return user;
}

Answer<bool> FilterRegistry::remove_user(const std::string& name) {
  sqlite::Transaction t(db_);
  auto find = db_.prepare("SELECT id FROM users WHERE name = ?");
  find.bind(1, name);
  if (!find.step()) return Refusal{404, "no user '" + name + "'"};
  const std::vector<std::string> topics = owned_topics(find.integer(0));
  find.reset();
  auto s = db_.prepare("DELETE FROM users WHERE name = ?");
  s.bind(1, name);
  s.run();
  // Their topics (freed by the cascade) go to the other users' filters still naming them.
  settle_topics(topics);
  bump_revision();  // their filters are gone from the stream
  t.commit();
  return true;
}

std::vector<User> FilterRegistry::users() const {
  auto s = db_.prepare(std::string(kUserColumns) + " ORDER BY name");
  std::vector<User> out;
  while (s.step()) out.push_back(read_user(s));
  return out;
}

Answer<std::string> FilterRegistry::issue_token(const std::string& user, bool rotate) {
  int64_t id = 0;
  {  // finished before the write transaction: a read still open there could not take the lock
    auto find = db_.prepare("SELECT id FROM users WHERE name = ?");
    find.bind(1, user);
    if (!find.step()) return Refusal{404, "no user '" + user + "'"};
    id = find.integer(0);
  }
  sqlite::Transaction t(db_);
  if (rotate) {
    auto revoke = db_.prepare("UPDATE tokens SET revoked = 1 WHERE user_id = ?");
    revoke.bind(1, id);
    revoke.run();
  }
  std::string token = new_token();
  auto insert = db_.prepare("INSERT INTO tokens(sha256, user_id) VALUES(?, ?)");
  insert.bind(1, sha256_hex(token)).bind(2, id);
  insert.run();
  t.commit();
  return token;
}

Answer<int64_t> FilterRegistry::revoke_tokens(const std::string& user) {
  auto exists = db_.prepare("SELECT 1 FROM users WHERE name = ?");
  exists.bind(1, user);
  if (!exists.step()) return Refusal{404, "no user '" + user + "'"};
  auto s = db_.prepare("UPDATE tokens SET revoked = 1 WHERE revoked = 0 AND user_id = (SELECT id FROM users WHERE name = ?)");
  s.bind(1, user);
  return int64_t{s.run()};
}

std::optional<User> FilterRegistry::authenticate(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  // The hash is the key: comparing digests leaks nothing about the token.
  auto s = db_.prepare(std::string(kUserColumns) + " WHERE id = (SELECT user_id FROM tokens WHERE sha256 = ? AND revoked = 0)");
  s.bind(1, sha256_hex(token));
  if (!s.step()) return std::nullopt;
  return read_user(s);
}

Filter FilterRegistry::read_filter(sqlite::Statement& s) const {
  Filter f;
  f.id = s.integer(0);
  f.owner = s.text(1);
  f.owner_id = s.integer(2);
  f.name = s.text(3);
  f.version = s.integer(4);
  f.expression = s.text(5);
  f.outputs = outputs_from_json(s.text(6));
  f.active = s.integer(7) != 0;
  f.paused_reason = s.text(8);
  f.kind = kind_named(s.text(9));
  return f;
}

Answer<Filter> FilterRegistry::owned(const User& who, int64_t id) const {
  auto s = db_.prepare(std::string(kFilterColumns) + " AND f.id = ?");
  s.bind(1, id);
  if (!s.step()) return Refusal{404, "no filter " + std::to_string(id)};
  Filter f = read_filter(s);
  if (!who.admin && f.owner_id != who.id) return Refusal{403, "filter " + std::to_string(id) + " is not yours"};
  read_counts(f);
  return f;
}

Answer<Filter> FilterRegistry::filter(const User& who, int64_t id) const { return owned(who, id); }

void FilterRegistry::read_counts(Filter& f) const {
  auto s = db_.prepare("SELECT delivered, dead_lettered, lost, rate_limited FROM output_counts "
                       "WHERE filter_id = ? AND kind = ? AND target = ? AND format = ?");
  f.output_counts.assign(f.outputs.size(), OutputCounts{});
  for (size_t i = 0; i < f.outputs.size(); ++i) {
    const Output& o = f.outputs[i];
    s.reset();
    s.bind(1, f.id).bind(2, std::string(to_string(o.kind))).bind(3, o.target).bind(4, o.format);
    if (s.step()) f.output_counts[i] = {s.integer(0), s.integer(1), s.integer(2), s.integer(3)};
  }
}

namespace {

// A query is checked as `sql-filter` checks its own: a wrong one comes back with its column.
std::optional<Refusal> check_query(const std::string& sql) {
  auto problem = repository::check_alert_query(sql);
  if (!problem) return std::nullopt;
  expr::CompileError error;
  error.column = problem->offset + 1;
  error.message = problem->message;
  return Refusal{400, "the query is wrong:\n" + expr::describe(sql, {error})};
}

std::optional<Refusal> check_condition(const User& owner, const std::string& expression, Filter::Kind kind) {
  if (kind == Filter::Kind::sql) return check_query(expression);
  auto cost = expression_cost(expression);
  if (auto* errors = std::get_if<std::string>(&cost)) return Refusal{400, "the expression does not compile:\n" + *errors};
  int64_t nodes = std::get<int64_t>(cost);
  if (nodes > owner.limits.max_expression_cost)
    return Refusal{422, "the expression costs " + std::to_string(nodes) + " nodes; the limit of '" + owner.name +
                            "' is " + std::to_string(owner.limits.max_expression_cost)};
  return std::nullopt;
}

std::optional<Refusal> check_outputs(const std::vector<Output>& outputs) {
  if (outputs.empty()) return Refusal{400, "a filter needs at least one output (kafka topic, webhook or slack URL)"};
  for (const Output& o : outputs) {
    if (o.target.empty()) return Refusal{400, std::string(to_string(o.kind)) + " output without a target"};
    if (o.format != "json" && o.format != "avro" && o.format != "avro-confluent")
      return Refusal{400, "an output's format is json, avro or avro-confluent, not '" + o.format + "'"};
    if (o.format != "json" && o.kind != Output::Kind::kafka)
      return Refusal{400, "only a kafka output can be " + o.format + " (a " + std::string(to_string(o.kind)) +
                              " output is JSON)"};
    if (o.kind != Output::Kind::kafka && !o.target.starts_with("http://") && !o.target.starts_with("https://"))
      return Refusal{400, std::string(to_string(o.kind)) + " output needs an http(s) URL, not '" + o.target + "'"};
    if (o.kind == Output::Kind::kafka && o.target.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos)
      return Refusal{400, "'" + o.target + "' is not a Kafka topic name (letters, digits, . _ -)"};
  }
  return std::nullopt;
}

}  // namespace

Answer<Filter> FilterRegistry::create_filter(const User& who, const std::string& name, const std::string& expression,
                                             const std::vector<Output>& outputs, Filter::Kind kind) {
  if (name.empty() || name.size() > 100) return Refusal{400, "a filter needs a name (up to 100 characters)"};
  if (auto refusal = check_condition(who, expression, kind)) return *refusal;
  if (auto refusal = check_outputs(outputs)) return *refusal;
  sqlite::Transaction t(db_);
  auto count = db_.prepare("SELECT count(*) FROM filters WHERE user_id = ? AND removed = 0");
  count.bind(1, who.id);
  count.step();
  if (count.integer(0) >= who.limits.max_filters)
    return Refusal{429, "'" + who.name + "' has " + std::to_string(count.integer(0)) + " filters, the limit"};
  if (kind == Filter::Kind::sql) {
    auto sql = db_.prepare(
        "SELECT count(*) FROM filters f JOIN filter_versions v ON v.filter_id = f.id AND v.version = f.version "
        "WHERE f.user_id = ? AND f.removed = 0 AND v.kind = 'sql'");
    sql.bind(1, who.id);
    sql.step();
    if (sql.integer(0) >= who.limits.max_sql_filters)
      return Refusal{429, "'" + who.name + "' has " + std::to_string(sql.integer(0)) + " SQL filters, the limit"};
  }
  auto same = db_.prepare("SELECT 1 FROM filters WHERE user_id = ? AND name = ? AND removed = 0");
  same.bind(1, who.id).bind(2, name);
  if (same.step()) return Refusal{409, "'" + who.name + "' has a filter named '" + name + "'"};
  if (auto refusal = take_topics(who, who.id, outputs)) return *refusal;
  auto insert = db_.prepare("INSERT INTO filters(user_id, name, version, active, paused_reason) VALUES(?, ?, 1, 1, '')");
  insert.bind(1, who.id).bind(2, name);
  insert.run();
  int64_t id = sqlite3_last_insert_rowid(db_.get());
  auto version =
      db_.prepare("INSERT INTO filter_versions(filter_id, version, expression, outputs, kind) VALUES(?, 1, ?, ?, ?)");
  version.bind(1, id).bind(2, expression).bind(3, outputs_json(outputs)).bind(4, to_string(kind));
  version.run();
  bump_revision();
  t.commit();
  return std::get<Filter>(owned(who, id));
}

Answer<Filter> FilterRegistry::update_filter(const User& who, int64_t id, const std::optional<std::string>& expression,
                                             const std::optional<std::vector<Output>>& outputs, Filter::Kind kind) {
  Answer<Filter> current = owned(who, id);
  if (auto* refusal = std::get_if<Refusal>(&current)) return *refusal;
  Filter f = std::get<Filter>(current);
  if (expression) {
    if (kind != f.kind)
      return Refusal{400, "filter " + std::to_string(id) + " is " +
                              (f.kind == Filter::Kind::sql ? "an SQL filter: give its new `sql`"
                                                           : "an expression filter: give its new `where`")};
    auto owner = db_.prepare(std::string(kUserColumns) + " WHERE id = ?");
    owner.bind(1, f.owner_id);
    owner.step();
    if (auto refusal = check_condition(read_user(owner), *expression, f.kind)) return *refusal;
  }
  if (outputs)
    if (auto refusal = check_outputs(*outputs)) return *refusal;
  sqlite::Transaction t(db_);
  // Read again in the transaction: another request may have changed it since the checks above.
  current = owned(who, id);
  if (auto* refusal = std::get_if<Refusal>(&current)) return *refusal;
  f = std::get<Filter>(current);
  // Its topics are checked again when unchanged: one may have been reserved for the workflow since.
  if (auto refusal = take_topics(who, f.owner_id, outputs.value_or(f.outputs))) return *refusal;
  auto version =
      db_.prepare("INSERT INTO filter_versions(filter_id, version, expression, outputs, kind) VALUES(?, ?, ?, ?, ?)");
  version.bind(1, id).bind(2, f.version + 1).bind(3, expression.value_or(f.expression))
      .bind(4, outputs_json(outputs.value_or(f.outputs))).bind(5, to_string(f.kind));
  version.run();
  auto bump = db_.prepare("UPDATE filters SET version = version + 1 WHERE id = ?");
  bump.bind(1, id);
  bump.run();
  if (outputs) settle_topics(owned_topics(f.owner_id));
  bump_revision();
  t.commit();
  return owned(who, id);
}

Answer<Filter> FilterRegistry::set_active(const User& who, int64_t id, bool active, const std::string& reason) {
  sqlite::Transaction t(db_);  // read in it: its outputs are the ones checked below
  Answer<Filter> current = owned(who, id);
  if (auto* refusal = std::get_if<Refusal>(&current)) return *refusal;
  // A paused filter keeps its topics; resumed, they are checked as a new version's are.
  if (active)
    if (auto refusal = take_topics(who, std::get<Filter>(current).owner_id, std::get<Filter>(current).outputs))
      return *refusal;
  auto s = db_.prepare("UPDATE filters SET active = ?, paused_reason = ? WHERE id = ?");
  s.bind(1, int64_t{active}).bind(2, active ? std::string() : reason).bind(3, id);
  s.run();
  bump_revision();
  t.commit();
  return owned(who, id);
}

Answer<bool> FilterRegistry::remove_filter(const User& who, int64_t id) {
  Answer<Filter> current = owned(who, id);
  if (auto* refusal = std::get_if<Refusal>(&current)) return *refusal;
  sqlite::Transaction t(db_);
  auto s = db_.prepare("UPDATE filters SET removed = 1, active = 0 WHERE id = ?");
  s.bind(1, id);
  s.run();
  settle_topics(owned_topics(std::get<Filter>(current).owner_id));
  bump_revision();
  t.commit();
  return true;
}

std::vector<Filter> FilterRegistry::filters(const User& who) const {
  auto s = db_.prepare(std::string(kFilterColumns) + (who.admin ? "" : " AND f.user_id = ?") + " ORDER BY f.id");
  if (!who.admin) s.bind(1, who.id);
  std::vector<Filter> out;
  while (s.step()) out.push_back(read_filter(s));
  for (Filter& f : out) read_counts(f);
  return out;
}

std::optional<Refusal> FilterRegistry::take_topics(const User& who, int64_t owner_id, const std::vector<Output>& outputs) {
  // Several runs may reserve one topic; an entry starting with '^' is a Kafka source's pattern.
  auto reserved = db_.prepare("SELECT reserved_by FROM reserved_topics WHERE topic = ? LIMIT 1");
  std::vector<std::pair<std::regex, std::string>> patterns;  // pattern -> who reserved it
  auto pattern_rows = db_.prepare("SELECT topic, reserved_by FROM reserved_topics WHERE substr(topic, 1, 1) = '^'");
  while (pattern_rows.step()) {
    try {
      patterns.emplace_back(std::regex(std::string(pattern_rows.text(0)), std::regex::ECMAScript),
                            std::string(pattern_rows.text(0)) + ", " + std::string(pattern_rows.text(1)));
    } catch (const std::regex_error&) {  // librdkafka's syntax, not ECMAScript's: held to the exact name
    }
  }
  auto owner = db_.prepare("SELECT t.user_id, u.name FROM topic_owners t JOIN users u ON u.id = t.user_id WHERE t.topic = ?");
  auto take = db_.prepare("INSERT INTO topic_owners(topic, user_id) VALUES(?, ?)");
  for (const std::string& topic : kafka_topics(outputs)) {
    reserved.reset();
    reserved.bind(1, topic);
    if (reserved.step() && !who.admin)
      return Refusal{403, "the Kafka topic '" + topic + "' is used by the workflow itself (" +
                              std::string(reserved.text(0)) + "): a filter cannot publish to it; choose another topic"};
    if (!who.admin)
      for (const auto& [pattern, by] : patterns)
        if (std::regex_search(topic, pattern))
          return Refusal{403, "the Kafka topic '" + topic + "' matches a topic pattern the workflow itself reads (" + by +
                                  "): a filter cannot publish to it; choose another topic"};
    owner.reset();
    owner.bind(1, topic);
    if (!owner.step()) {
      take.reset();
      take.bind(1, topic).bind(2, owner_id);
      take.run();
    } else if (owner.integer(0) != owner_id && !who.admin) {
      // A user learns that the name is taken, not by whom.
      return Refusal{403, "the Kafka topic '" + topic + "' belongs to another user: choose another topic"};
    }
  }
  return std::nullopt;
}

std::vector<std::string> FilterRegistry::owned_topics(int64_t user_id) const {
  auto s = db_.prepare("SELECT topic FROM topic_owners WHERE user_id = ?");
  s.bind(1, user_id);
  std::vector<std::string> out;
  while (s.step()) out.emplace_back(s.text(0));
  return out;
}

void FilterRegistry::settle_topics(const std::vector<std::string>& topics) {
  // The stored outputs name it (kind 'kafka', target = the topic): the current owner's filters
  // first, then a non-admin's, then the oldest.
  auto heir = db_.prepare(
      "SELECT f.user_id FROM filters f JOIN users u ON u.id = f.user_id "
      "JOIN filter_versions v ON v.filter_id = f.id AND v.version = f.version, json_each(v.outputs) o "
      "WHERE f.removed = 0 AND json_extract(o.value, '$.kind') = 'kafka' AND json_extract(o.value, '$.target') = ?1 "
      "ORDER BY f.user_id = (SELECT user_id FROM topic_owners WHERE topic = ?1) DESC, u.admin, f.id LIMIT 1");
  auto give = db_.prepare(
      "INSERT INTO topic_owners(topic, user_id) VALUES(?, ?) "
      "ON CONFLICT(topic) DO UPDATE SET user_id = excluded.user_id, since = datetime('now') "
      "WHERE user_id != excluded.user_id");
  auto free = db_.prepare("DELETE FROM topic_owners WHERE topic = ?");
  for (const std::string& topic : topics) {
    heir.reset();
    heir.bind(1, topic);
    if (heir.step()) {
      const int64_t user = heir.integer(0);
      heir.reset();  // finished before the write
      give.reset();
      give.bind(1, topic).bind(2, user);
      give.run();
    } else {
      free.reset();
      free.bind(1, topic);
      free.run();
    }
  }
}

void FilterRegistry::reserve_topics(const std::string& by, const std::vector<std::string>& topics) {
  sqlite::Transaction t(db_);
  auto release = db_.prepare("DELETE FROM reserved_topics WHERE reserved_by = ?");
  release.bind(1, by);
  release.run();
  auto reserve = db_.prepare("INSERT OR IGNORE INTO reserved_topics(topic, reserved_by) VALUES(?, ?)");
  for (const std::string& topic : topics) {
    reserve.reset();
    reserve.bind(1, topic).bind(2, by);
    reserve.run();
  }
  t.commit();
  // Filters naming one already keep running (pausing them is their owner's or an admin's call):
  // said here, where the operator sees it, and refused at their next version or resume.
  std::set<std::string> wanted(topics.begin(), topics.end());
  for (const Filter& f : active_filters())
    for (const std::string& topic : kafka_topics(f.outputs))
      if (wanted.contains(topic))
        spdlog::warn("{}: filter {} of '{}' ({}) publishes to the Kafka topic '{}', which {} writes: it keeps running, "
                     "a new version or a resume naming the topic is refused",
                     db_.path(), f.id, f.owner, f.name, topic, by);
}

std::map<std::string, std::string> FilterRegistry::topic_owners(const User& who) const {
  auto s = db_.prepare(std::string("SELECT t.topic, u.name FROM topic_owners t JOIN users u ON u.id = t.user_id") +
                       (who.admin ? "" : " WHERE t.user_id = ?"));
  if (!who.admin) s.bind(1, who.id);
  std::map<std::string, std::string> out;
  while (s.step()) out.emplace(s.text(0), s.text(1));
  return out;
}

std::map<std::string, std::string> FilterRegistry::reserved_topics() const {
  auto s = db_.prepare("SELECT topic, reserved_by FROM reserved_topics");
  std::map<std::string, std::string> out;
  while (s.step()) out.emplace(s.text(0), s.text(1));
  return out;
}

std::vector<Filter> FilterRegistry::active_filters() const {
  auto s = db_.prepare(std::string(kFilterColumns) + " AND f.active = 1 ORDER BY f.id");
  std::vector<Filter> out;
  while (s.step()) out.push_back(read_filter(s));
  return out;
}

void FilterRegistry::pause_for_failures(const std::map<int64_t, std::string>& reasons) {
  sqlite::Transaction t(db_);
  bool paused = false;
  for (const auto& [id, reason] : reasons) {
    auto s = db_.prepare("UPDATE filters SET active = 0, paused_reason = ? WHERE id = ? AND active = 1");
    s.bind(1, reason).bind(2, id);
    paused = s.run() > 0 || paused;
  }
  if (paused) bump_revision();
  t.commit();
}

void FilterRegistry::add_output_counts(const std::vector<CountsAdded>& counts) {
  sqlite::Transaction t(db_);
  auto s = db_.prepare(
      "INSERT INTO output_counts(filter_id, kind, target, format, delivered, dead_lettered, lost, rate_limited) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM filters WHERE id = ?1) "
      "ON CONFLICT(filter_id, kind, target, format) DO UPDATE SET delivered = delivered + excluded.delivered, "
      "dead_lettered = dead_lettered + excluded.dead_lettered, lost = lost + excluded.lost, "
      "rate_limited = rate_limited + excluded.rate_limited");
  for (const CountsAdded& c : counts) {
    s.reset();
    s.bind(1, c.filter_id).bind(2, std::string(to_string(c.output.kind))).bind(3, c.output.target)
        .bind(4, c.output.format).bind(5, c.added.delivered).bind(6, c.added.dead_lettered).bind(7, c.added.lost)
        .bind(8, c.added.rate_limited);
    s.run();
  }
  t.commit();
}

void FilterRegistry::record_effects(const std::string& run, int64_t instance, int64_t revision,
                                    const std::vector<Effect>& effects) {
  sqlite::Transaction t(db_);
  // Logged and noted together: a replacement of this instance logs what its predecessor did not.
  auto applied = db_.prepare(
      "INSERT INTO switch_claims(run, instance, source_sequence, applied_revision) VALUES(?, ?, -1, ?) "
      "ON CONFLICT(run, instance) DO UPDATE SET applied_revision = max(applied_revision, excluded.applied_revision)");
  applied.bind(1, run).bind(2, instance).bind(3, revision);
  applied.run();
  for (const Effect& e : effects) {
    auto s = db_.prepare(
        "INSERT INTO filter_effects(filter_id, version, instance, alert_sequence, source_sequence, attempt) "
        "VALUES(?, ?, ?, ?, ?, ?)");
    s.bind(1, e.filter_id).bind(2, e.version).bind(3, e.instance).bind(4, e.sequence).bind(5, e.source_sequence)
        .bind(6, e.attempt);
    s.run();
  }
  t.commit();
}

std::vector<FilterRegistry::Effect> FilterRegistry::effects(int64_t id) const {
  auto s = db_.prepare(
      "SELECT filter_id, version, instance, alert_sequence, source_sequence, attempt FROM filter_effects "
      "WHERE filter_id = ? ORDER BY rowid");
  s.bind(1, id);
  std::vector<Effect> out;
  while (s.step())
    out.push_back({s.integer(0), s.integer(1), std::string(s.text(2)), s.integer(3), s.integer(4), s.integer(5)});
  return out;
}

Claim FilterRegistry::claim(const std::string& run, int64_t instance, int64_t source_sequence, int64_t known_revision,
                            int64_t batch) {
  if (batch < 0) batch = source_sequence;
  sqlite::Transaction t(db_);  // BEGIN IMMEDIATE: one instance at a time, from its claim to its commit
  const int64_t revision = this->revision();
  auto scheduled = db_.prepare("SELECT 1 FROM switch_points WHERE run = ? AND revision = ?");
  scheduled.bind(1, run).bind(2, revision);
  if (!scheduled.step()) {
    // Every batch claimed so far was, or is being, evaluated with the earlier filters: the new
    // ones start just after the highest.
    auto highest = db_.prepare("SELECT max(source_sequence) FROM switch_claims WHERE run = ?");
    highest.bind(1, run);
    int64_t from = highest.step() && !highest.is_null(0) ? highest.integer(0) + 1 : 0;
    auto point = db_.prepare("INSERT INTO switch_points(run, revision, source_sequence) VALUES(?, ?, ?)");
    point.bind(1, run).bind(2, revision).bind(3, from);
    point.run();
    auto set = db_.prepare(
        "INSERT INTO switch_filters(run, revision, filter_id, version) "
        "SELECT ?, ?, id, version FROM filters WHERE active = 1 AND removed = 0");
    set.bind(1, run).bind(2, revision);
    set.run();
    // Their owners' limits of now: an instance that reaches the point later applies these, not
    // what the limits may have become by then.
    auto limits = db_.prepare(
        "INSERT INTO switch_limits(run, revision, user_id, max_alerts_per_second, max_sql_steps) "
        "SELECT ?, ?, id, max_alerts_per_second, max_sql_steps FROM users "
        "WHERE id IN (SELECT user_id FROM filters WHERE active = 1 AND removed = 0)");
    limits.bind(1, run).bind(2, revision);
    limits.run();
  }
  auto claim = db_.prepare(
      "INSERT INTO switch_claims(run, instance, source_sequence) VALUES(?, ?, ?) ON CONFLICT(run, instance) "
      "DO UPDATE SET source_sequence = max(source_sequence, excluded.source_sequence)");
  claim.bind(1, run).bind(2, instance).bind(3, source_sequence);
  claim.run();
  Claim answer;
  auto index = db_.prepare("SELECT source_sequence, applied_revision FROM switch_claims WHERE run = ? AND instance = ?");
  index.bind(1, run).bind(2, instance);
  if (index.step()) {
    answer.claimed_through = index.integer(0);
    answer.applied_revision = index.integer(1);
  }
  std::vector<SwitchPoint>& out = answer.points;
  {
    // Only the newest kMaxClaimPoints of those reached at once (at or before `batch`): counted, not
    // read. A later revision's point is never at an earlier sequence, so revision order is stream order.
    auto reached = db_.prepare(
        "SELECT count(*) FROM switch_points WHERE run = ? AND revision > ? AND source_sequence <= ?");
    reached.bind(1, run).bind(2, known_revision).bind(3, batch);
    reached.step();
    answer.skipped = std::max<int64_t>(0, reached.integer(0) - static_cast<int64_t>(kMaxClaimPoints));
  }
  auto points = db_.prepare(
      "SELECT revision, source_sequence FROM switch_points WHERE run = ? AND revision > ? ORDER BY revision "
      "LIMIT ? OFFSET ?");
  // One more than sent: whether any is left out, and where the first of them starts.
  points.bind(1, run).bind(2, known_revision).bind(3, static_cast<int64_t>(kMaxClaimPoints) + 1).bind(4, answer.skipped);
  while (points.step()) out.push_back({points.integer(0), points.integer(1), {}, {}});
  if (out.size() > kMaxClaimPoints) {
    answer.next_point = out.back().sequence;
    out.pop_back();
  }
  for (SwitchPoint& p : out) {
    auto filters = db_.prepare(std::string(
        "SELECT f.id, u.name, u.id, f.name, v.version, v.expression, v.outputs, 1, '', v.kind "
        "FROM switch_filters s JOIN filters f ON f.id = s.filter_id JOIN users u ON u.id = f.user_id "
        "JOIN filter_versions v ON v.filter_id = s.filter_id AND v.version = s.version "
        "WHERE s.run = ? AND s.revision = ? ORDER BY f.id"));
    filters.bind(1, run).bind(2, p.revision);
    while (filters.step()) p.filters.push_back(read_filter(filters));
    auto limits = db_.prepare(
        "SELECT u.name, l.max_alerts_per_second, l.max_sql_steps FROM switch_limits l JOIN users u ON u.id = l.user_id "
        "WHERE l.run = ? AND l.revision = ?");
    limits.bind(1, run).bind(2, p.revision);
    while (limits.step()) p.limits[std::string(limits.text(0))] = {limits.number(1), limits.integer(2)};
  }
  t.commit();
  return answer;
}

}  // namespace ebs::filter_registry
