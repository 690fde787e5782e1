#include "actors/transforms/filters.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "actors/common/filter_registry/filter_registry.h"
#include "actors/common/kafka/kafka_client.h"
#include "actors/common/repository/writer.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "actors/transforms/filter.h"
#include "actors/transforms/generated_filters.h"
#include "actors/transforms/sql_filter.h"
#include "engine/graph/workflow.h"
#include "engine/expr/alert_field.h"
#include "engine/runtime/source_sequence.h"
#include "test/support/kafka_test_support.h"
#include "test/support/child_process.h"
#include "test/support/collecting_emitter.h"
#include "test/support/hanging_endpoint.h"
#include "test/support/recording_webhook.h"
#include "test/support/repository_test_support.h"
#include "test/support/ztf_alerts.h"

using namespace ebs;
using ebs::test::CollectingEmitter;

namespace {

std::vector<RecordPtr> real_ztf_alerts() {
  std::vector<RecordPtr> out;
  for (const char* folder : {"ztf/fink-20200101-v3.3", "ztf/kowalski-v3.3-v4.01"})
    for (auto& a : ebs::test::ztf_alerts(folder)) out.push_back(a);
  return out;
}

std::string filters_config(const std::map<std::string, std::string>& filters, const std::string& tag = "") {
  YAML::Node config;
  for (const auto& [name, where] : filters) config["filters"][name] = where;
  if (!tag.empty()) config["tag"] = tag;
  return YAML::Dump(config);
}

// The records the `filters` actor forwards from `records`, its config's `tag` given.
std::vector<RecordPtr> forwarded(const std::map<std::string, std::string>& filters, const std::string& tag,
                                 const std::vector<RecordPtr>& records) {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config(filters, tag));
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
  CHECK(out.forwarded_records + out.filtered_records == records.size());
  return out.records();
}

// filter name -> the positions (in `records`) of the alerts the `filters` actor says passed it.
std::map<std::string, std::set<size_t>> run_filters(const std::map<std::string, std::string>& filters,
                                                    const std::vector<RecordPtr>& records, CollectingEmitter& out) {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config(filters));
  auto logic = type.create(context);
  logic->open(context);
  logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
  std::map<const AlertCore*, size_t> position;
  for (size_t i = 0; i < records.size(); ++i) position[&static_cast<const Alert&>(*records[i]).core()] = i;
  std::map<std::string, std::set<size_t>> passed;
  for (const RecordPtr& r : out.records()) {
    const auto& alert = static_cast<const Alert&>(*r);
    auto annotations = alert.annotations().list();
    REQUIRE(!annotations.empty());
    CHECK(annotations.back()->name == "filters");
    nlohmann::json details = nlohmann::json::parse(annotations.back()->details);
    for (const auto& [name, version] : details.items()) {
      CHECK(version == 1);
      passed[name].insert(position.at(&alert.core()));
    }
  }
  return passed;
}

std::set<size_t> run_single_filter(const std::string& where, const std::vector<RecordPtr>& records) {
  YAML::Node config;
  config["where"] = where;
  ebs::test::OpenActor filter(register_filter, "filter", YAML::Dump(config));
  CollectingEmitter out;
  filter.run(records, out);
  std::set<size_t> passed;
  for (const RecordPtr& r : out.records())
    for (size_t i = 0; i < records.size(); ++i)
      if (r.get() == records[i].get()) passed.insert(i);
  return passed;
}

}  // namespace

TEST_CASE("1,000 generated filters on real ZTF alerts: each passes what `filter` passes alone") {
  std::vector<RecordPtr> records = real_ztf_alerts();
  REQUIRE(records.size() > 50);
  std::vector<std::string> texts = generated_user_filters(1000, 18);
  std::map<std::string, std::string> filters;
  for (size_t i = 0; i < texts.size(); ++i) filters["user" + std::to_string(i)] = texts[i];
  CollectingEmitter out;
  auto passed = run_filters(filters, records, out);
  size_t non_empty = 0, not_all = 0;
  std::set<size_t> any;
  for (const auto& entry : filters) {
    const auto& name = entry.first;  // clang 14 lambdas (INFO) cannot capture structured bindings
    const auto& where = entry.second;
    std::set<size_t> alone = run_single_filter(where, records);
    INFO("filter " << name << ": " << where);
    CHECK(passed[name] == alone);
    non_empty += !alone.empty();
    not_all += alone.size() < records.size();
    any.insert(alone.begin(), alone.end());
  }
  // The comparison means something only if the filters both keep and drop alerts.
  CHECK(non_empty > 100);
  CHECK(not_all > 900);
  CHECK(out.forwarded_records == any.size());
  CHECK(out.forwarded_records + out.filtered_records == records.size());
}

TEST_CASE("a wrong expression names its filter") {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config({{"good", "mag < 19"}, {"typo", "mag <"}}));
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("filter 'typo'") != std::string::npos);
  auto logic = type.create(context);
  CHECK_THROWS_AS(logic->open(context), Fault);
}

TEST_CASE("tag: filters maps the filters passed, count says how many, none forwards the alerts as they came") {
  std::vector<RecordPtr> records = real_ztf_alerts();
  std::vector<std::string> texts = generated_user_filters(12, 7);
  std::map<std::string, std::string> filters;
  for (size_t i = 0; i < texts.size(); ++i) filters["user" + std::to_string(i)] = texts[i];
  std::vector<RecordPtr> mapped = forwarded(filters, "", records);  // the default: the map
  std::vector<RecordPtr> counted = forwarded(filters, "count", records);
  std::vector<RecordPtr> plain = forwarded(filters, "none", records);
  REQUIRE(!mapped.empty());
  REQUIRE(mapped.size() < records.size());
  REQUIRE(counted.size() == mapped.size());
  REQUIRE(plain.size() == mapped.size());
  size_t several = 0;
  for (size_t i = 0; i < mapped.size(); ++i) {
    const auto& m = static_cast<const Alert&>(*mapped[i]);
    const auto& c = static_cast<const Alert&>(*counted[i]);
    CHECK(&m.core() == &c.core());
    CHECK(plain[i].get() != mapped[i].get());
    // `none` forwards the very records it was given, unannotated.
    CHECK(std::find(records.begin(), records.end(), plain[i]) != records.end());
    CHECK(&static_cast<const Alert&>(*plain[i]).core() == &m.core());
    const Annotation* map_tag = m.annotations().list().back();
    const Annotation* count_tag = c.annotations().list().back();
    CHECK(count_tag->name == "filters");
    CHECK(count_tag->kind == Annotation::Kind::tag);
    CHECK(count_tag->details.empty());
    size_t passed = nlohmann::json::parse(map_tag->details).size();
    CHECK(count_tag->value == static_cast<double>(passed));
    several += passed > 1;
  }
  CHECK(several > 0);
}

TEST_CASE("a wrong tag mode is refused") {
  ActorRegistry registry;
  register_filters(registry);
  const ActorType& type = *registry.find("filters");
  ActorContext context = ebs::test::make_context(type, filters_config({{"bright", "mag < 19"}}, "list"));
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("`tag` is `filters`, `count` or `none`") != std::string::npos);
}

TEST_CASE("AlertColumns reads what compile_alert_field reads, on both ZTF schemas") {
  std::vector<RecordPtr> records = real_ztf_alerts();
  std::vector<const Alert*> alerts;
  for (const RecordPtr& r : records) alerts.push_back(static_cast<const Alert*>(r.get()));
  // Core fields, raw paths sharing steps, one named twice, paths through a list, a record, a
  // missing field and a path below a number.
  const std::vector<std::string> paths = {
      "mag", "n_detections", "candidate.drb", "candidate.fwhm", "raw.candidate.drb", "candidate.drb",
      "objectId", "prv_candidates.0.jd", "prv_candidates", "candidate", "candidate.no_such_field",
      "candidate.jd.deeper", "cutoutScience.stampData", "no_such_record.x"};
  AlertColumns reader(paths);
  std::vector<std::vector<expr::Value>> columns;
  // Twice: positions found in the first call must not leak into the second.
  for (int call = 0; call < 2; ++call) {
    reader.read(alerts, columns);
    REQUIRE(columns.size() == paths.size());
    std::set<std::string> schemas;
    size_t numbers = 0;
    for (size_t f = 0; f < paths.size(); ++f) {
      AlertField single = compile_alert_field(paths[f]);
      REQUIRE(columns[f].size() == alerts.size());
      for (size_t i = 0; i < alerts.size(); ++i) {
        INFO(paths[f] << " of alert " << i);
        CHECK(columns[f][i] == single(*alerts[i]));
        numbers += columns[f][i].is_number();
        schemas.insert(alerts[i]->core().schema_version);
      }
    }
    CHECK(schemas.size() >= 2);
    CHECK(numbers > 5 * alerts.size());
  }
}

namespace {

using ebs::repository::testing::TempDir;
namespace registry = ebs::filter_registry;

// The ids of the alerts that `sql-filter` with `query` forwards.
std::set<int64_t> sql_filter_answers(const std::string& repository, const std::string& query,
                                     const std::vector<RecordPtr>& records) {
  YAML::Node config;
  config["db"] = repository;
  config["query"] = query;
  ebs::test::OpenActor sql_filter(register_sql_filter, "sql-filter", YAML::Dump(config));
  CollectingEmitter out;
  sql_filter.run(records, out);
  std::set<int64_t> ids;
  for (const RecordPtr& r : out.records()) ids.insert(static_cast<const Alert&>(*r).core().alert_id);
  return ids;
}

// A query that counts to `n` before it answers, passing every alert: ~18 SQLite steps per count.
std::string counting_to(int n) {
  const std::string to = std::to_string(n);
  return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < " + to +
         ") SELECT 1 FROM c WHERE x = " + to + " AND :mag > 0";
}

// A repository written from the real ZTF alerts, and a registry beside it with one user.
struct SqlFilterService {
  TempDir dir{"sql-filters"};
  std::vector<RecordPtr> records = real_ztf_alerts();
  std::string repository = dir.file("repo.sqlite");
  registry::FilterRegistry store{dir.file("filters.sqlite")};
  registry::User alice;
  int runs = 0;
  ActorRegistry actors;
  std::deque<ActorContext> contexts;  // of the instances tag_count_instance made

  SqlFilterService() {
    register_filters(actors);
    {
      ebs::repository::Writer writer(repository);
      writer.begin();
      for (const RecordPtr& r : records) writer.add(*r);
      writer.commit(records.size(), records.size());
    }
    // No message leaves: at 0 alerts/s every output drops what it is offered (counted), so no
    // delivery fails and pauses a filter between the runs of a test.
    registry::Limits silent;
    silent.max_alerts_per_second = 0;
    alice = std::get<registry::User>(store.create_user("alice", false, silent));
  }

  // Another user, silent as alice is, with `sql_steps` as their own limit on SQL steps per alert.
  registry::User add_user(const std::string& name, int64_t sql_steps) {
    registry::Limits limits;
    limits.max_alerts_per_second = 0;
    limits.max_sql_steps = sql_steps;
    return std::get<registry::User>(store.create_user(name, false, limits));
  }

  int64_t add(const std::string& name, const std::string& text, registry::Filter::Kind kind,
              const registry::User* owner = nullptr) {
    auto made = store.create_filter(owner ? *owner : alice, name, text,
                                    {{registry::Output::Kind::webhook, "http://127.0.0.1:1/hook"}}, kind);
    if (auto* refusal = std::get_if<registry::Refusal>(&made)) FAIL(refusal->message);
    return std::get<registry::Filter>(made).id;
  }

  // An instance of the `filters` actor over the registry and the repository (`tag: count`, or
  // `tag`): instance `instance` of the run of the first one made here (the same key of their
  // switch points), which counts batches without a token 1, 2, ...; without `with_repository` its
  // SQL filters cannot run.
  std::unique_ptr<ActorLogic> tag_count_instance(size_t instance = 0, const std::string& tag = "count",
                                                 bool with_repository = true) {
    const ActorType& type = *actors.find("filters");
    YAML::Node config;
    config["registry"] = store.path();
    if (with_repository) config["repository"] = repository;
    config["tag"] = tag;
    contexts.push_back(ebs::test::make_context(type, YAML::Dump(config)));
    contexts.back().instance = instance;
    contexts.back().acks = contexts.front().acks;
    auto logic = type.create(contexts.back());
    logic->open(contexts.back());
    return logic;
  }

  // How many of all the alerts, in one batch, `logic` forwards.
  size_t forwarded_count(ActorLogic& logic) {
    CollectingEmitter out;
    logic.on_batch(0, BatchView::make(PortType::alert, records, {}), out);
    return out.records().size();
  }

  // The `filters` actor over the registry (`repository` given or not) on all the alerts in one
  // batch: per filter label, the ids of the alerts its tag names.
  std::map<std::string, std::set<int64_t>> run(bool with_repository, std::optional<int64_t> sql_step_limit = {}) {
    const ActorType& type = *actors.find("filters");
    YAML::Node config;
    config["registry"] = store.path();
    if (with_repository) config["repository"] = repository;
    if (sql_step_limit) config["sql_step_limit"] = *sql_step_limit;
    config["tag"] = "filters";
    ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
    // Switch points belong to one run's instances (the actor id in the key): each run starts afresh.
    context.actor_id = "users" + std::to_string(++runs);
    auto logic = type.create(context);
    logic->open(context);
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
    std::map<std::string, std::set<int64_t>> passed;
    for (const RecordPtr& r : out.records()) {
      const auto& alert = static_cast<const Alert&>(*r);
      const nlohmann::json tag = nlohmann::json::parse(alert.annotations().list().back()->details);
      for (const auto& [label, version] : tag.items()) passed[label].insert(alert.core().alert_id);
    }
    return passed;
  }
};

}  // namespace

TEST_CASE("a registry's SQL filters answer as `sql-filter` does, beside its expressions, on a repository of real ZTF alerts") {
  SqlFilterService service;
  const std::map<std::string, std::string> queries = {
      {"seen-twice", "SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 2"},
      {"earlier-alert", "SELECT 1 FROM alerts WHERE object_id = :object_id AND mjd_tai < :mjd_tai"},
      {"long-curve", "SELECT count(*) AS n FROM lightcurve WHERE object_id = :object_id HAVING n >= 12"},
      {"bright-g", "SELECT 1 WHERE :mag < 18.5 AND :band = 'g'"},
  };
  for (const auto& [name, sql] : queries) service.add(name, sql, registry::Filter::Kind::sql);
  const std::string where = "mag < 18.5 and candidate.drb > 0.5";
  service.add("bright", where, registry::Filter::Kind::expression);

  std::map<std::string, std::set<int64_t>> passed = service.run(true);
  for (const auto& query : queries) {
    // Named, not bound: clang 14 cannot capture a structured binding in INFO's lambda.
    const std::string& name = query.first;
    const std::string& sql = query.second;
    INFO(name << ": " << sql);
    std::set<int64_t> expected = sql_filter_answers(service.repository, sql, service.records);
    CHECK(!expected.empty());
    CHECK(expected.size() < service.records.size());
    CHECK(passed["alice/" + name] == expected);
  }
  // The expression's answers are `filter`'s, in their row before the SQL filters'.
  std::set<int64_t> bright;
  for (const RecordPtr& r : forwarded({{"bright", where}}, "", service.records))
    bright.insert(static_cast<const Alert&>(*r).core().alert_id);
  CHECK(!bright.empty());
  CHECK(passed["alice/bright"] == bright);
}

TEST_CASE("an SQL filter without a repository, or whose query fails at run time, is paused with the reason; the others answer") {
  SqlFilterService service;
  const int64_t ndet = service.add("seen-twice", "SELECT 1 FROM objects WHERE object_id = :object_id AND ndet >= 2",
                                   registry::Filter::Kind::sql);
  const int64_t bright = service.add("bright", "mag < 18.5", registry::Filter::Kind::expression);

  // No `repository`: the SQL filter never takes effect.
  std::map<std::string, std::set<int64_t>> passed = service.run(false);
  CHECK(passed.count("alice/seen-twice") == 0);
  CHECK(!passed["alice/bright"].empty());
  registry::Filter paused = std::get<registry::Filter>(service.store.filter(service.alice, ndet));
  CHECK(!paused.active);
  CHECK(paused.paused_reason.find("no `repository`") != std::string::npos);
  CHECK(service.store.effects(ndet).empty());
  CHECK(service.store.effects(bright).size() == 1);

  // A query that prepares but fails on the first alert (an integer overflow): paused, with
  // SQLite's message, while the expression answers the whole batch.
  service.store.set_active(service.alice, ndet, false, "by alice");
  const int64_t overflow = service.add("overflow", "SELECT 1 WHERE :mag > 0 AND abs(-9223372036854775807 - 1) > 0",
                                       registry::Filter::Kind::sql);
  passed = service.run(true);
  CHECK(passed.count("alice/overflow") == 0);
  CHECK(passed["alice/bright"].size() == forwarded({{"bright", "mag < 18.5"}}, "", service.records).size());
  registry::Filter failed = std::get<registry::Filter>(service.store.filter(service.alice, overflow));
  CHECK(!failed.active);
  CHECK(failed.paused_reason.find("integer overflow") != std::string::npos);
}

TEST_CASE("an SQL filter that takes more than sql_step_limit steps for an alert is stopped and paused; the others answer") {
  SqlFilterService service;
  const std::string seen_twice = "SELECT 1 FROM objects WHERE object_id = :object_id AND ndet >= 2";
  service.add("seen-twice", seen_twice, registry::Filter::Kind::sql);
  service.add("bright", "mag < 18.5", registry::Filter::Kind::expression);
  // 3.6 M steps per alert (a count to 200,000): without a limit it passes every alert.
  const int64_t expensive = service.add("expensive", counting_to(200'000), registry::Filter::Kind::sql);

  std::map<std::string, std::set<int64_t>> passed = service.run(true, 50'000);
  CHECK(passed.count("alice/expensive") == 0);
  registry::Filter stopped = std::get<registry::Filter>(service.store.filter(service.alice, expensive));
  CHECK(!stopped.active);
  CHECK(stopped.paused_reason.find("more than 50000 SQLite steps for one alert") != std::string::npos);
  // The cheap query (a look-up by object) and the expression answer the whole batch.
  std::set<int64_t> expected = sql_filter_answers(service.repository, seen_twice, service.records);
  CHECK(!expected.empty());
  CHECK(passed["alice/seen-twice"] == expected);
  CHECK(passed["alice/bright"].size() == forwarded({{"bright", "mag < 18.5"}}, "", service.records).size());
}

TEST_CASE("each user's own limit on SQL steps per alert, under the service's sql_step_limit: the lower applies, named") {
  SqlFilterService service;
  const std::string counting = counting_to(5'000);  // ~90,000 steps per alert
  const std::string counting_more = counting_to(200'000);  // 3.6 M steps
  registry::User dave = service.add_user("dave", 20'000);  // below the query: stopped by his own limit
  registry::User erin = service.add_user("erin", 1'000'000);  // above it, below the service's: it runs
  registry::User frank = service.add_user("frank", 0);  // none of his own: the service's 2 M applies
  registry::User grace = service.add_user("grace", 10'000'000);  // above the service's: the service's applies
  const int64_t daves = service.add("count", counting, registry::Filter::Kind::sql, &dave);
  const int64_t erins = service.add("count", counting, registry::Filter::Kind::sql, &erin);
  const int64_t franks = service.add("count", counting_more, registry::Filter::Kind::sql, &frank);
  const int64_t graces = service.add("count", counting_more, registry::Filter::Kind::sql, &grace);
  service.add("bright", "mag < 18.5", registry::Filter::Kind::expression);

  std::map<std::string, std::set<int64_t>> passed = service.run(true, 2'000'000);
  auto reason = [&service](const registry::User& who, int64_t id) {
    registry::Filter f = std::get<registry::Filter>(service.store.filter(who, id));
    CHECK(f.active == f.paused_reason.empty());
    return f.paused_reason;
  };
  CHECK(passed.count("dave/count") == 0);
  CHECK(reason(dave, daves) ==
        "the query failed: it took more than 20000 SQLite steps for one alert (the limit, dave's sql_steps)");
  std::set<int64_t> every = sql_filter_answers(service.repository, counting, service.records);
  CHECK(every.size() == service.records.size());
  CHECK(passed["erin/count"] == every);
  CHECK(reason(erin, erins).empty());
  for (const auto& stopped : {std::pair{frank, franks}, {grace, graces}}) {
    const registry::User& who = stopped.first;  // named, not bound: clang 14 cannot capture a binding in INFO
    INFO(who.name);
    CHECK(passed.count(who.name + "/count") == 0);
    CHECK(reason(who, stopped.second) ==
          "the query failed: it took more than 2000000 SQLite steps for one alert (the limit, sql_step_limit)");
  }
  CHECK(passed["alice/bright"].size() == forwarded({{"bright", "mag < 18.5"}}, "", service.records).size());
}

TEST_CASE("a user's limits changed mid-stream are read at the next switch point: a lowered step limit stops a query") {
  SqlFilterService service;
  const std::string counting = counting_to(5'000);  // ~90,000 steps per alert
  registry::User erin = service.add_user("erin", 1'000'000);
  const int64_t erins = service.add("count", counting, registry::Filter::Kind::sql, &erin);
  auto logic = service.tag_count_instance();
  auto forwarded_count = [&] { return service.forwarded_count(*logic); };
  CHECK(forwarded_count() == service.records.size());
  // Lowered between two batches (nothing else changed): the next batch's switch point reads it.
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("erin", {.max_sql_steps = 20'000})));
  CHECK(forwarded_count() == 0);
  registry::Filter stopped = std::get<registry::Filter>(service.store.filter(erin, erins));
  CHECK(!stopped.active);
  CHECK(stopped.paused_reason ==
        "the query failed: it took more than 20000 SQLite steps for one alert (the limit, erin's sql_steps)");
  // Raised again and the filter resumed: it answers every alert.
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("erin", {.max_sql_steps = erin.limits.max_sql_steps})));
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.set_active(erin, erins, true, "")));
  CHECK(forwarded_count() == service.records.size());
}

TEST_CASE("two instances apply a switch point under the limits it was made with, however late either reaches it") {
  SqlFilterService service;
  const std::string counting = counting_to(5'000);  // ~90,000 steps per alert
  registry::User erin = service.add_user("erin", 1'000'000);
  service.add("count", counting, registry::Filter::Kind::sql, &erin);
  // Two instances of one actor in one run.
  std::vector<std::unique_ptr<ActorLogic>> instances;
  for (size_t i = 0; i < 2; ++i) instances.push_back(service.tag_count_instance(i));
  auto forwarded_count = [&](size_t instance) { return service.forwarded_count(*instances[instance]); };
  // Instance 0 makes the first switch point (from source batch 0) under erin's 1,000,000 steps.
  CHECK(forwarded_count(0) == service.records.size());
  // Lowered: the change's switch point is from source batch 2 on. Instance 1's first batch (1) is
  // before it: the first point's limits apply, not the store's of now.
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("erin", {.max_sql_steps = 20'000})));
  CHECK(forwarded_count(1) == service.records.size());
  // Both instances' second batch is at the change's point: the lowered limit stops the query.
  CHECK(forwarded_count(0) == 0);
  CHECK(forwarded_count(1) == 0);
}

namespace {

// alice's filter "bright" as version 1 ("mag < 18.5"), with what each of its two versions forwards
// of the service's alerts (both some): the late-batch and numbering cases update it to v2.
struct BrightTwoVersions {
  std::string v2 = "mag >= 18.5";
  int64_t id = 0;
  size_t by_v1 = 0, by_v2 = 0;
};
BrightTwoVersions add_bright_two_versions(SqlFilterService& service) {
  const std::string v1 = "mag < 18.5";
  BrightTwoVersions out;
  out.id = service.add("bright", v1, registry::Filter::Kind::expression);
  out.by_v1 = forwarded({{"bright", v1}}, "", service.records).size();
  out.by_v2 = forwarded({{"bright", out.v2}}, "", service.records).size();
  REQUIRE(out.by_v1 > 0);
  REQUIRE(out.by_v2 > 0);
  return out;
}

// The version of alice's "bright" that a `tag: count` instance annotated a forwarded alert with.
int bright_version(const RecordPtr& record) {
  return nlohmann::json::parse(static_cast<const Alert&>(*record).annotations().list().back()->details)
      .at("alice/bright")
      .get<int>();
}

// All of `records` as source batch `sequence` at `logic` (a token of `tracker` standing in for the
// source's, as a batch that crossed a link holds): how many were forwarded under each version of
// alice's "bright".
std::map<int, size_t> forwarded_by_version(ActorLogic& logic, const std::shared_ptr<AckTracker>& tracker,
                                           const std::vector<RecordPtr>& records, uint64_t sequence) {
  AckRef token(new AckToken(tracker, records.size()), StandInRelease{sequence, [](const AckToken* t) { delete t; }});
  CollectingEmitter out;
  logic.on_batch(0, BatchView::make(PortType::alert, records, {token}), out);
  std::map<int, size_t> by_version;
  for (const RecordPtr& r : out.records()) ++by_version[bright_version(r)];
  return by_version;
}

}  // namespace

TEST_CASE("a batch that comes late meets the version in effect at its own source sequence") {
  SqlFilterService service;
  const BrightTwoVersions versions = add_bright_two_versions(service);
  const std::string& v2 = versions.v2;
  const int64_t bright = versions.id;
  const size_t by_v1 = versions.by_v1, by_v2 = versions.by_v2;
  auto tracker = std::make_shared<AckTracker>();
  auto evaluate = [&](ActorLogic& logic, uint64_t sequence) {
    return forwarded_by_version(logic, tracker, service.records, sequence);
  };
  // Two instances of one run; batches 2 and 3 are late at instance 0 (a parallel upstream on
  // another node, or a replay after a node loss).
  auto first = service.tag_count_instance(0, "filters"), second = service.tag_count_instance(1, "filters");
  CHECK(evaluate(*first, 1) == std::map<int, size_t>{{1, by_v1}});
  CHECK(evaluate(*second, 4) == std::map<int, size_t>{{1, by_v1}});
  // The update's point is after every batch claimed (4): 5.
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.update_filter(service.alice, bright, v2, std::nullopt)));
  CHECK(evaluate(*first, 5) == std::map<int, size_t>{{2, by_v2}});
  CHECK(evaluate(*second, 6) == std::map<int, size_t>{{2, by_v2}});
  // Late at instance 0, after it put version 2 in force: before the point, version 1 still.
  CHECK(evaluate(*first, 3) == std::map<int, size_t>{{1, by_v1}});
  CHECK(evaluate(*first, 2) == std::map<int, size_t>{{1, by_v1}});
  CHECK(evaluate(*first, 7) == std::map<int, size_t>{{2, by_v2}});
  // Version 2 logged once per instance, from source batch 5 (a multiset: logged twice would show).
  std::multiset<std::pair<std::string, int64_t>> logged;
  for (const auto& e : service.store.effects(bright))
    if (e.version == 2) logged.insert({e.instance, e.source_sequence});
  CHECK(logged == std::multiset<std::pair<std::string, int64_t>>{{"under_test#0", 5}, {"under_test#1", 5}});
}

TEST_CASE("a failover's replacement resumes its lost instance's claim: replayed batches under their versions, no point "
          "logged again") {
  SqlFilterService service;
  const BrightTwoVersions versions = add_bright_two_versions(service);
  const int64_t bright = versions.id;
  const size_t by_v1 = versions.by_v1, by_v2 = versions.by_v2;
  const std::string v3 = "mag < 17.5";
  const size_t by_v3 = forwarded({{"bright", v3}}, "", service.records).size();
  REQUIRE(by_v3 > 0);
  auto tracker = std::make_shared<AckTracker>();
  auto evaluate = [&](ActorLogic& logic, uint64_t sequence) {
    return forwarded_by_version(logic, tracker, service.records, sequence);
  };
  auto update = [&](const std::string& where) {
    REQUIRE(std::holds_alternative<registry::Filter>(
        service.store.update_filter(service.alice, bright, where, std::nullopt)));
  };
  // Instance 1 evaluates 2 under version 1, puts version 2 in force at 3 (logged) and claims
  // through 4; version 3's point, 5, is made after it, and instance 1 is lost with its node before
  // it reaches it, having released none of 2, 3 and 4.
  auto first = service.tag_count_instance(0, "filters"), lost = service.tag_count_instance(1, "filters");
  CHECK(evaluate(*first, 1) == std::map<int, size_t>{{1, by_v1}});
  CHECK(evaluate(*lost, 2) == std::map<int, size_t>{{1, by_v1}});
  update(versions.v2);
  CHECK(evaluate(*lost, 3) == std::map<int, size_t>{{2, by_v2}});
  CHECK(evaluate(*lost, 4) == std::map<int, size_t>{{2, by_v2}});
  update(v3);
  CHECK(evaluate(*first, 5) == std::map<int, size_t>{{3, by_v3}});
  lost.reset();
  const auto batch = static_cast<int64_t>(service.records.size());
  auto instance_one_log = [&] {
    std::multiset<std::tuple<int64_t, int64_t, int64_t>> logged;  // version, source batch, alert sequence
    for (const auto& e : service.store.effects(bright))
      if (e.instance == "under_test#1") logged.insert({e.version, e.source_sequence, e.sequence});
    return logged;
  };
  const std::multiset<std::tuple<int64_t, int64_t, int64_t>> by_lost{{1, 0, 0}, {2, 3, batch}};
  REQUIRE(instance_one_log() == by_lost);
  auto claims = [](const ActorLogic& logic) {
    const std::string output = logic.output();
    const size_t end = output.find(" claims of switch points");
    REQUIRE_MESSAGE(end != std::string::npos, output);
    return std::stoi(output.substr(output.rfind(' ', end - 1) + 1));
  };
  auto replacement = service.tag_count_instance(1, "filters");

  SUBCASE("3 and 4 again, then 5 and 6") {
    CHECK(evaluate(*replacement, 3) == std::map<int, size_t>{{2, by_v2}});
    CHECK(evaluate(*replacement, 4) == std::map<int, size_t>{{2, by_v2}});
    CHECK(evaluate(*replacement, 5) == std::map<int, size_t>{{3, by_v3}});
    CHECK(evaluate(*replacement, 6) == std::map<int, size_t>{{3, by_v3}});
    // Instance 1's log holds each version once: 1 and 2 as the lost one logged them, 3 by the
    // replacement (at its alert 2 x the batch: the two replayed batches before it). (The code
    // before logged 1 and 2 again.)
    auto by_replacement = by_lost;
    by_replacement.insert({3, 5, 2 * batch});
    CHECK(instance_one_log() == by_replacement);
    // It claimed at 3, 5 and 6, not at 4: up to the lost one's claim every point was known.
    // (Before: a claim at 4 too.)
    CHECK(claims(*replacement) == 3);
  }

  SUBCASE("2 again before the point the lost one logged, 5 (new) before 3 and 4 (again); a replacement of the "
          "replacement logs nothing again") {
    CHECK(evaluate(*replacement, 2) == std::map<int, size_t>{{1, by_v1}});
    CHECK(evaluate(*replacement, 5) == std::map<int, size_t>{{3, by_v3}});
    CHECK(evaluate(*replacement, 3) == std::map<int, size_t>{{2, by_v2}});
    CHECK(evaluate(*replacement, 4) == std::map<int, size_t>{{2, by_v2}});
    // Only version 3 logged, at the replacement's alert `batch` (one batch, 2, before it).
    auto by_replacement = by_lost;
    by_replacement.insert({3, 5, batch});
    CHECK(instance_one_log() == by_replacement);
    // Claims at 2 (learning the lost one's claim, through 4) and at 5; none for 3 and 4.
    CHECK(claims(*replacement) == 2);
    replacement.reset();
    auto second_replacement = service.tag_count_instance(1, "filters");
    CHECK(evaluate(*second_replacement, 3) == std::map<int, size_t>{{2, by_v2}});
    CHECK(evaluate(*second_replacement, 2) == std::map<int, size_t>{{1, by_v1}});
    CHECK(evaluate(*second_replacement, 5) == std::map<int, size_t>{{3, by_v3}});
    CHECK(evaluate(*second_replacement, 6) == std::map<int, size_t>{{3, by_v3}});
    CHECK(instance_one_log() == by_replacement);
  }
}

TEST_CASE("a failover's replacement does not pause again a filter its lost instance paused and its owner resumed") {
  SqlFilterService service;
  const BrightTwoVersions versions = add_bright_two_versions(service);
  const int64_t ndet = service.add("seen-twice", "SELECT 1 FROM objects WHERE object_id = :object_id AND ndet >= 2",
                                   registry::Filter::Kind::sql);
  auto tracker = std::make_shared<AckTracker>();
  // Instance 1 (without a repository: its SQL filter cannot run) logs the first point at batch 1
  // and pauses the SQL filter; alice resumes it; the instance is lost with batch 1 unreleased.
  auto lost = service.tag_count_instance(1, "filters", false);
  CHECK(forwarded_by_version(*lost, tracker, service.records, 1) == std::map<int, size_t>{{1, versions.by_v1}});
  CHECK(!std::get<registry::Filter>(service.store.filter(service.alice, ndet)).active);
  lost.reset();
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.set_active(service.alice, ndet, true, "")));
  // The replacement gets batch 1 again: the first point in force again, its failure not paused
  // again (the resumed filter's own point comes after the lost one's claim).
  auto replacement = service.tag_count_instance(1, "filters", false);
  CHECK(forwarded_by_version(*replacement, tracker, service.records, 1) == std::map<int, size_t>{{1, versions.by_v1}});
  CHECK(std::get<registry::Filter>(service.store.filter(service.alice, ndet)).active);
}

namespace {

// alice's "bright" updated version after version, instance 0 putting version k in force at source
// batch k (even versions are BrightTwoVersions::v2, odd ones v1): the cases of an instance many
// switch points behind.
struct VersionPerBatch {
  const std::string v1 = "mag < 18.5";
  SqlFilterService service;
  const BrightTwoVersions versions = add_bright_two_versions(service);
  const std::shared_ptr<AckTracker> tracker = std::make_shared<AckTracker>();
  const std::unique_ptr<ActorLogic> first = service.tag_count_instance(0, "filters");
  int version = 1;  // the newest

  VersionPerBatch() { CHECK(evaluate(*first, 1) == expected(1)); }

  // The next version, not put in force by any batch.
  void update() {
    ++version;
    REQUIRE(std::holds_alternative<registry::Filter>(
        service.store.update_filter(service.alice, versions.id, version % 2 == 0 ? versions.v2 : v1, std::nullopt)));
  }
  // The versions up to `last`, each put in force by instance 0 at the source batch of its number.
  void update_through(int last) {
    while (version < last) {
      update();
      CHECK(evaluate(*first, static_cast<uint64_t>(version)) == expected(version));
    }
  }
  std::map<int, size_t> evaluate(ActorLogic& logic, uint64_t sequence) {
    return forwarded_by_version(logic, tracker, service.records, sequence);
  }
  // All the alerts that `v` forwards, under it.
  std::map<int, size_t> expected(int v) const { return {{v, v % 2 == 0 ? versions.by_v2 : versions.by_v1}}; }
  // The versions `instance` logged, each as often as it logged it.
  std::multiset<int64_t> logged(const std::string& instance) {
    std::multiset<int64_t> out;
    for (const auto& e : service.store.effects(versions.id))
      if (e.instance == instance) out.insert(e.version);
    return out;
  }
};

std::multiset<int64_t> each_once(int64_t from, int64_t to) {
  std::multiset<int64_t> out;
  for (int64_t v = from; v <= to; ++v) out.insert(v);
  return out;
}

// `logic`'s closing warnings of batches that met forgotten versions (beside them, the service's
// webhook's rate-limit warning).
std::vector<std::string> forgotten_warnings(const ActorLogic& logic) {
  std::vector<std::string> out;
  for (const std::string& w : logic.closing_warnings())
    if (w.find("forgotten") != std::string::npos) out.push_back(w);
  return out;
}

const std::string kOneBeyondKept =
    "1 batches came after the versions in effect at them were forgotten, beyond the 16 newest versions kept: evaluated "
    "under the oldest kept";

}  // namespace

TEST_CASE("an instance that reaches many switch points at once gets only the newest kept, compiles and logs those") {
  VersionPerBatch f;
  f.update_through(21);
  // Instance 1 (a failover's replacement, or an instance whose first batch is late) reaches all 21
  // points with its first batch: its claim answers the 16 newest (versions 6..21), compiled, kept
  // and logged; the 5 older are never in force there, not logged (before the claim's answer was
  // bounded they were sent, logged and not compiled); a batch at 5 is evaluated under the oldest
  // kept and counted as beyond them (none for lateness).
  auto late = f.service.tag_count_instance(1, "filters");
  CHECK(f.evaluate(*late, 21) == f.expected(21));
  CHECK(f.evaluate(*late, 6) == f.expected(6));
  CHECK(f.evaluate(*late, 5) == f.expected(6));
  CHECK(forgotten_warnings(*late) == std::vector<std::string>{kOneBeyondKept});
  CHECK(f.logged("under_test#1") == each_once(6, 21));
}

TEST_CASE("an instance behind 20 points gets them 16 at a time, asks again for the rest, and meets each at its batch") {
  VersionPerBatch f;
  f.update_through(21);

  SUBCASE("a new instance") {
    // Instance 1 starts at batch 1: its first answer holds the point at 0 and the 15 after its batch
    // (2..16), the rest left out; it asks again before batch 17 and evaluates every batch under the
    // version in force there, logging each version once.
    auto behind = f.service.tag_count_instance(1, "filters");
    for (int k = 1; k <= 21; ++k) CHECK(f.evaluate(*behind, static_cast<uint64_t>(k)) == f.expected(k));
    CHECK(f.logged("under_test#1") == each_once(1, 21));
  }

  SUBCASE("the replacement of an instance that claimed through 21") {
    // An instance 1 evaluated batch 21 (claiming through it, logging versions 6..21) and was lost
    // with its node, releasing nothing: its replacement gets batches 1..21 again. Its first answer
    // again holds points through 16 only, so it takes its claim as through 16, not its predecessor's
    // 21, and asks again before batch 17 (taking 21, it evaluated 17..21 under version 16).
    CHECK(f.evaluate(*f.service.tag_count_instance(1, "filters"), 21) == f.expected(21));
    auto replacement = f.service.tag_count_instance(1, "filters");
    for (int k = 1; k <= 21; ++k) CHECK(f.evaluate(*replacement, static_cast<uint64_t>(k)) == f.expected(k));
    CHECK(f.logged("under_test#1") == each_once(6, 21));  // the lost one's, none again
  }
}

TEST_CASE("the versions kept from before points a claim left out are forgotten: a late batch among those points is "
          "counted, not evaluated under an earlier version") {
  VersionPerBatch f;
  // Instance 1 puts version 1 in force at batch 1, then falls behind.
  auto behind = f.service.tag_count_instance(1, "filters");
  CHECK(f.evaluate(*behind, 1) == f.expected(1));
  f.update_through(18);
  // Versions 19 and 20 at one source batch, 19: each point made by the claim of a new instance at
  // batch 2, after instance 0's at 18.
  std::vector<std::unique_ptr<ActorLogic>> others;
  for (size_t index = 2; index <= 3; ++index) {
    f.update();
    others.push_back(f.service.tag_count_instance(index, "filters"));
    CHECK(f.evaluate(*others.back(), 2) == f.expected(2));
  }
  // Instance 1 reaches 19 points at batch 19: its claim leaves out the 3 oldest (versions 2..4) and
  // sends versions 5..20, at 15 source batches; with version 1's from before, 16 versions, all that
  // are kept. A batch at 3 comes late: evaluated under the oldest kept (5) and counted, as in the
  // case above. (Before, version 1 was kept and evaluated it, silently.)
  CHECK(f.evaluate(*behind, 19) == f.expected(20));
  CHECK(f.evaluate(*behind, 5) == f.expected(5));
  CHECK(f.evaluate(*behind, 3) == f.expected(5));
  CHECK(forgotten_warnings(*behind) == std::vector<std::string>{kOneBeyondKept});
}

TEST_CASE("a switch point is one number in each numbering (two sources' batches): each switches when its own batches reach it") {
  SqlFilterService service;
  const BrightTwoVersions versions = add_bright_two_versions(service);
  const std::string& v2 = versions.v2;
  const int64_t bright = versions.id;
  const size_t by_v1 = versions.by_v1, by_v2 = versions.by_v2;
  // Two numberings into one instance, as two Kafka partitions or two parallel source instances
  // send: each source's tokens are numbered 1, 2, 3, ... by its own tracker.
  auto fast = std::make_shared<AckTracker>(), slow = std::make_shared<AckTracker>();
  auto logic = service.tag_count_instance(0, "filters");
  std::map<int, size_t> forwarded_by_version;  // over every batch
  size_t evaluated = 0;
  // All the alerts as the next batch of `numbering`: the versions it was evaluated under.
  auto evaluate = [&](const std::shared_ptr<AckTracker>& numbering) {
    AckRef token = std::make_shared<const AckToken>(numbering, service.records.size());
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, service.records, {token}), out);
    CHECK(out.forwarded_records + out.filtered_records == service.records.size());
    evaluated += out.forwarded_records + out.filtered_records;
    std::set<int> versions;
    for (const RecordPtr& r : out.records()) {
      const int version = bright_version(r);
      versions.insert(version);
      ++forwarded_by_version[version];
    }
    return versions;
  };
  for (int i = 0; i < 4; ++i) CHECK(evaluate(fast) == std::set<int>{1});
  CHECK(evaluate(slow) == std::set<int>{1});
  // The update's point is after the highest batch claimed (fast's 4): 5, in both numberings.
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.update_filter(service.alice, bright, v2, std::nullopt)));
  CHECK(evaluate(fast) == std::set<int>{2});  // fast's 5
  CHECK(evaluate(fast) == std::set<int>{2});
  for (int i = 0; i < 3; ++i) CHECK(evaluate(slow) == std::set<int>{1});  // slow's 2, 3, 4: before its own 5
  CHECK(evaluate(slow) == std::set<int>{2});  // slow's 5
  CHECK(evaluate(fast) == std::set<int>{2});
  // Every alert evaluated once, under one version: 4 + 4 batches under version 1, 3 + 1 under 2.
  CHECK(evaluated == 12 * service.records.size());
  CHECK(forwarded_by_version == std::map<int, size_t>{{1, 8 * by_v1}, {2, 4 * by_v2}});
  std::multiset<int64_t> logged;  // version 2 logged once, from source batch 5
  for (const auto& e : service.store.effects(bright))
    if (e.version == 2) logged.insert(e.source_sequence);
  CHECK(logged == std::multiset<int64_t>{5});
  for (const std::string& w : logic->closing_warnings()) {  // alice's outputs drop at her 0 alerts/s: nothing else
    INFO(w);
    CHECK(w.find("alerts/s limit") != std::string::npos);
  }
}

TEST_CASE("a late batch whose older version's query fails does not pause the filter its owner changed since") {
  SqlFilterService service;
  // Version 1 overflows on an alert fainter than 19 only; version 2 never does.
  const std::string v1 = "SELECT 1 WHERE abs(CASE WHEN :mag > 19 THEN -9223372036854775807 - 1 ELSE 0 END) >= 0";
  const std::string v2 = "SELECT 1 WHERE :mag > 0";
  const int64_t id = service.add("faint", v1, registry::Filter::Kind::sql);
  std::vector<RecordPtr> bright;
  for (const RecordPtr& r : service.records)
    if (static_cast<const Alert&>(*r).core().mag <= 19) bright.push_back(r);
  REQUIRE(!bright.empty());
  REQUIRE(bright.size() < service.records.size());
  auto tracker = std::make_shared<AckTracker>();
  auto logic = service.tag_count_instance();
  auto evaluate = [&](uint64_t sequence, const std::vector<RecordPtr>& records) {
    AckRef token(new AckToken(tracker, records.size()), StandInRelease{sequence, [](const AckToken* t) { delete t; }});
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, records, {token}), out);
    return out.records().size();
  };
  CHECK(evaluate(2, bright) == bright.size());  // version 1, no alert fainter than 19
  auto updated = service.store.update_filter(service.alice, id, v2, std::nullopt, registry::Filter::Kind::sql);
  if (auto* refusal = std::get_if<registry::Refusal>(&updated)) FAIL(refusal->message);
  CHECK(evaluate(3, service.records) == service.records.size());  // version 2 (its point is 3)
  // Batch 1 comes late: under version 1, whose query fails on the faint alerts.
  CHECK(evaluate(1, service.records) == 0);
  CHECK(evaluate(4, service.records) == service.records.size());
  registry::Filter running = std::get<registry::Filter>(service.store.filter(service.alice, id));
  CHECK(running.active);
  CHECK(running.version == 2);
  CHECK(running.paused_reason.empty());
}

TEST_CASE("a batch whose version was forgotten for the count of versions kept is counted as such, not as late") {
  SqlFilterService service;
  const int64_t bright = service.add("bright", "mag < 18.5", registry::Filter::Kind::expression);
  const std::vector<RecordPtr> one{service.records.front()};
  auto tracker = std::make_shared<AckTracker>();
  auto logic = service.tag_count_instance();
  auto evaluate = [&](uint64_t sequence) {
    AckRef token(new AckToken(tracker, 1), StandInRelease{sequence, [](const AckToken* t) { delete t; }});
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, one, {token}), out);
  };
  evaluate(1);
  // 17 versions after the first, one per batch: the 16 newest are kept, the first is forgotten
  // though batch 1 is far fewer than 4,096 batches behind.
  for (uint64_t k = 1; k <= 17; ++k) {
    const std::string where = k % 2 ? "mag >= 18.5" : "mag < 18.5";
    REQUIRE(std::holds_alternative<registry::Filter>(service.store.update_filter(service.alice, bright, where, std::nullopt)));
    evaluate(k + 1);
  }
  evaluate(1);
  evaluate(1);
  const std::vector<std::string> warnings = logic->closing_warnings();  // then alice's drops at 0 alerts/s
  REQUIRE(!warnings.empty());
  CHECK(warnings.front() ==
        std::string{"2 batches came after the versions in effect at them were forgotten, beyond the 16 "
                    "newest versions kept: evaluated under the oldest kept"});
}

TEST_CASE("an output's messages dropped at its owner's alerts/s limit are in the filter's status: rate_limited") {
  SqlFilterService service;  // alice is silent: alerts_per_second 0, every message dropped and counted
  const int64_t id = service.add("bright", "mag < 18.5", registry::Filter::Kind::expression);
  auto logic = service.tag_count_instance();
  CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::alert, service.records, {}), out);
  const auto passed = static_cast<int64_t>(out.records().size());
  REQUIRE(passed > 0);
  CollectingEmitter end;
  logic->on_end_of_stream(end);  // writes the counts
  const registry::Filter status = std::get<registry::Filter>(service.store.filter(service.alice, id));
  CHECK(status.active);  // dropped at the limit is not a failure
  CHECK(status.output_counts == std::vector<registry::OutputCounts>{{0, 0, 0, passed}});
}

TEST_CASE("a user's alerts/s limit changed mid-stream applies to their outputs' queues from the next switch point") {
  SqlFilterService service;  // alice is silent: alerts_per_second 0, every message dropped and counted
  service.add("bright", "mag < 18.5", registry::Filter::Kind::expression);
  auto logic = service.tag_count_instance();
  auto batch = [&] {
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, service.records, {}), out);
    return out.records().size();
  };
  const size_t passed = batch();
  REQUIRE(passed > 0);
  const std::vector<std::string> dropped{"webhook http://127.0.0.1:1/hook: " + std::to_string(passed) +
                                         " alerts dropped above its owner's alerts/s limit"};
  CHECK(logic->closing_warnings() == dropped);
  // Raised: the same queue takes the next batch's messages (none more dropped).
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("alice", {.max_alerts_per_second = 1e9})));
  CHECK(batch() == passed);
  // (The webhook at port 1 fails meanwhile: what it refuses after is counted in another warning.)
  const std::vector<std::string> warnings = logic->closing_warnings();
  CHECK(std::find(warnings.begin(), warnings.end(), dropped.front()) != warnings.end());
}

TEST_CASE("a negative sql_step_limit is refused") {
  ActorRegistry actors;
  register_filters(actors);
  const ActorType& type = *actors.find("filters");
  YAML::Node config;
  config["registry"] = "filters.sqlite";
  config["sql_step_limit"] = -1;
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  std::vector<Problem> problems;
  type.check(context.config, problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("must not be negative") != std::string::npos);
}

TEST_CASE("a workflow's filters: map holds SQL filters ({sql: QUERY}) beside expressions, answering as `sql-filter` does") {
  SqlFilterService service;  // its repository of the real ZTF alerts
  const std::string seen = "SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 2";
  const std::string curve = "SELECT count(*) AS n FROM lightcurve WHERE object_id = :object_id HAVING n >= 12";
  const ActorType& type = *service.actors.find("filters");
  YAML::Node config;
  config["filters"]["bright"] = "mag < 18.5";
  config["filters"]["seen"]["sql"] = seen;
  config["filters"]["curve"]["sql"] = curve;
  config["repository"] = service.repository;
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  std::vector<Problem> problems;
  type.check(context.config, problems);
  CHECK(problems.empty());
  auto logic = type.create(context);
  logic->open(context);
  CollectingEmitter out;
  logic->on_batch(0, BatchView::make(PortType::alert, service.records, {}), out);
  std::map<std::string, std::set<int64_t>> passed;
  for (const RecordPtr& r : out.records()) {
    const auto& alert = static_cast<const Alert&>(*r);
    const nlohmann::json tag = nlohmann::json::parse(alert.annotations().list().back()->details);
    for (const auto& [label, version] : tag.items()) passed[label].insert(alert.core().alert_id);
  }
  for (const std::pair<std::string, std::string>& query : {std::pair{std::string("seen"), seen}, std::pair{std::string("curve"), curve}}) {
    INFO(query.first);
    std::set<int64_t> expected = sql_filter_answers(service.repository, query.second, service.records);
    CHECK(!expected.empty());
    CHECK(expected.size() < service.records.size());
    CHECK(passed[query.first] == expected);
  }
  CHECK(passed["bright"].size() == forwarded({{"bright", "mag < 18.5"}}, "", service.records).size());

  // Refused at validate: an SQL filter without `repository`, a wrong query (its column), an entry
  // of another shape.
  YAML::Node wrong;
  wrong["filters"]["seen"]["sql"] = "SELECT 1 FROM objects WHERE ndett >= 2 AND object_id = :object_id";
  wrong["filters"]["odd"]["where"] = "mag < 18";
  problems.clear();
  type.check(ebs::test::make_context(type, YAML::Dump(wrong)).config, problems);
  std::string messages;
  for (const Problem& p : problems) messages += p.message + "\n";
  INFO(messages);
  CHECK(problems.size() == 3);
  CHECK(messages.find("need `repository`") != std::string::npos);
  CHECK(messages.find("filter 'seen', the query at column 29: no such column: ndett") != std::string::npos);
  CHECK(messages.find("filter 'odd': a condition (text) or {sql: QUERY}") != std::string::npos);
}

TEST_CASE("claim_ahead_ms: 0 to 60000, another value refused at its place") {
  ActorRegistry actors;
  register_filters(actors);
  const ActorType& type = *actors.find("filters");
  auto problems_of = [&](const std::string& yaml) {
    ActorContext context = ebs::test::make_context(type, yaml);
    std::vector<Problem> problems;
    type.check(context.config, problems);
    return problems;
  };
  CHECK(problems_of("{registry: filters.sqlite}").empty());  // the default, 250
  CHECK(problems_of("{registry: filters.sqlite, claim_ahead_ms: 0}").empty());
  CHECK(problems_of("{registry: filters.sqlite, claim_ahead_ms: 60000}").empty());
  for (const char* bad : {"-1", "60001"}) {
    CAPTURE(bad);
    const std::vector<Problem> problems =
        problems_of(std::string("{registry: filters.sqlite,\n claim_ahead_ms: ") + bad + "}");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].place == "test.yaml:2:18");
    CHECK(problems[0].message == std::string("`claim_ahead_ms` is 0 to 60000 (milliseconds of stream claimed ahead), not ") +
                                     bad);
  }
}

TEST_CASE("the filters actor holds a batch's acknowledgement until its outputs' messages are out; a failed output "
          "makes them dead letters, which hold it until written") {
  SqlFilterService service;
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("alice", {.max_alerts_per_second = 1e9})));
  ebs::test::HangingEndpoint hook;  // its first request hangs, the others wait behind it
  auto made = service.store.create_filter(
      service.alice, "bright", "mag < 18.5",
      {{registry::Output::Kind::webhook, hook.url()}});
  REQUIRE(std::holds_alternative<registry::Filter>(made));
  const int64_t id = std::get<registry::Filter>(made).id;
  auto logic = service.tag_count_instance();
  auto tracker = std::make_shared<AckTracker>();
  size_t passed = 0;
  {
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, service.records, {std::make_shared<AckToken>(tracker, service.records.size())}), out);
    passed = out.forwarded_records;
    CHECK(out.forwarded_records + out.filtered_records == service.records.size());  // every record accounted for
  }
  REQUIRE(passed > 0);
  // The forwarded batch is let go (as a sink that wrote it would): the webhook's messages still
  // hold the batch (its first request hangs, the others wait behind it).
  CHECK(tracker->acknowledged_through() == 0);
  CHECK(tracker->records_acknowledged() == 0);
  // The webhook goes away: its output fails and gives up on its messages, each a dead letter that
  // the actor emits at its next tick on its dead-letter port (after its one declared output); the
  // batch waits for them (as for a sink that has not yet written them).
  hook.close();
  std::deque<CollectingEmitter> ticks;
  std::vector<RecordPtr> letters;
  REQUIRE(ebs::test::wait_until([&] {
    logic->on_tick(ticks.emplace_back());
    for (const RecordPtr& r : ticks.back().records(1)) letters.push_back(r);
    return letters.size() >= passed;
  }, std::chrono::seconds(30)));
  CHECK(letters.size() == passed);
  for (const CollectingEmitter& tick : ticks) {
    CHECK(tick.forwarded_records + tick.filtered_records + tick.failed_records == 0);  // not input records
    CHECK(tick.emitted_records == tick.records(1).size());
  }
  for (const RecordPtr& r : letters) {
    REQUIRE(r->type() == PortType::dead_letter);
    const auto& letter = static_cast<const DeadLetter&>(*r);
    CHECK(letter.kind == "undelivered");
    CHECK(letter.actor == "under_test");
    CHECK(letter.place.starts_with("webhook " + hook.url() + ": filter " + std::to_string(id) + " v1 (alice/bright), alert "));
    CHECK(nlohmann::json::parse(letter.original)["filter"]["owner"] == "alice");
  }
  CHECK(tracker->acknowledged_through() == 0);
  ticks.clear();  // the dead-letter sink wrote them
  CHECK(tracker->acknowledged_through() == 1);
  CHECK(tracker->records_abandoned() == 0);
  CollectingEmitter end;
  logic->on_end_of_stream(end);
  const std::vector<std::string> warnings = logic->closing_warnings();
  const std::string expected = "webhook " + hook.url() + " (filter " +
                               std::to_string(id) + "): 0 messages delivered, " + std::to_string(passed) +
                                " not confirmed delivered: the output failed (";
  CHECK_MESSAGE(std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) { return w.rfind(expected, 0) == 0; }),
                "expected a warning starting with: " << expected);
  CHECK(logic->output().find(std::to_string(passed) + " let go by failed outputs, " + std::to_string(passed) +
                             " sent as dead letters") != std::string::npos);
  // Paused with the reason.
  registry::Filter now = std::get<registry::Filter>(service.store.filter(service.alice, id));
  CHECK(!now.active);
  CHECK(now.paused_reason.find("webhook") != std::string::npos);
}

TEST_CASE("a filter whose Kafka topic rejects its messages is paused with the reason; its messages are dead letters") {
  SqlFilterService service;
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("alice", {.max_alerts_per_second = 1e9})));
  ebs::kafka::EmbeddedBroker broker;
  broker.create_topic("alice-rejected", 1);
  // The broker refuses every request to write there (as a topic whose ACL denies the service
  // would): a permanent error, not retried. 1,000 Produce requests (ApiKey 0), more than the test makes.
  const std::vector<rd_kafka_resp_err_t> denied(1000, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  rd_kafka_mock_push_request_errors_array(broker.mock_cluster(), 0, denied.size(), denied.data());
  // The first two refusals come after 8 s (the broker's own errors go first): long after the batch
  // has been handed over (milliseconds, seconds on a loaded machine), so that the pause comes at a
  // tick of a quiet stream, not at a batch's end.
  REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(broker.mock_cluster(), 1, 0, 2,
                                                       RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 8000,
                                                       RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 8000) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
  auto made = service.store.create_filter(service.alice, "bright", "mag < 18.5",
                                          {{registry::Output::Kind::kafka, "alice-rejected"}});
  REQUIRE(std::holds_alternative<registry::Filter>(made));
  const int64_t id = std::get<registry::Filter>(made).id;
  // A healthy filter beside it (a webhook answering 200): the ticks leave it active.
  ebs::test::RecordingWebhook steady_hook;
  auto steady_made = service.store.create_filter(service.alice, "steady", "mag < 18.5",
                                                 {{registry::Output::Kind::webhook, steady_hook.url()}});
  REQUIRE(std::holds_alternative<registry::Filter>(steady_made));
  const int64_t steady = std::get<registry::Filter>(steady_made).id;
  const ActorType& type = *service.actors.find("filters");
  YAML::Node config;
  config["registry"] = service.store.path();
  config["brokers"] = broker.bootstrap_servers();
  config["output_timeout_ms"] = 30000;  // beyond the refusals' 8 s: they, not a time-out, fail the output
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  auto logic = type.create(context);
  logic->open(context);
  // One batch, then no more (a quiet stream): the output fails on the rejection after the batch,
  // and the filter is paused at a tick.
  std::deque<CollectingEmitter> emitters;
  logic->on_batch(0, BatchView::make(PortType::alert, service.records, {}), emitters.emplace_back());
  const size_t passed = emitters.back().forwarded_records;
  REQUIRE(passed > 0);
  CHECK(std::get<registry::Filter>(service.store.filter(service.alice, id)).active);  // not failed yet
  auto letters = [&] {
    size_t n = 0;
    for (const CollectingEmitter& e : emitters) n += e.records(1).size();
    return n;
  };
  REQUIRE(ebs::test::wait_until([&] {
    logic->on_tick(emitters.emplace_back());
    return !std::get<registry::Filter>(service.store.filter(service.alice, id)).active && letters() >= passed;
  }, std::chrono::seconds(60)));
  const registry::Filter paused = std::get<registry::Filter>(service.store.filter(service.alice, id));
  CHECK(paused.paused_reason == "kafka topic alice-rejected rejected messages: Broker: Topic authorization failed (its "
                                "undelivered messages go to the run's dead letters, kind `undelivered`)");
  // None reached the topic: every message passed is a dead letter, placed at the topic.
  CHECK(letters() == passed);
  for (const CollectingEmitter& e : emitters)
    for (const RecordPtr& r : e.records(1))
      CHECK(static_cast<const DeadLetter&>(*r).place.starts_with("kafka topic alice-rejected: filter " + std::to_string(id)));
  CHECK(paused.output_counts.at(0).delivered == 0);
  CHECK(steady_hook.wait_for_requests(passed));
  for (int i = 0; i < 5; ++i) logic->on_tick(emitters.emplace_back());
  CHECK(std::get<registry::Filter>(service.store.filter(service.alice, steady)).active);
  CollectingEmitter end;
  logic->on_end_of_stream(end);
}

TEST_CASE("only the outputs of a filter's running version pause it: an old output failing after a change does not, "
          "a new one failing after a resume does") {
  SqlFilterService service;
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("alice", {.max_alerts_per_second = 1e9})));
  ebs::test::HangingEndpoint old_hook;  // its requests hang until it closes
  auto made = service.store.create_filter(service.alice, "all", "mag < 99", {{registry::Output::Kind::webhook, old_hook.url()}});
  REQUIRE(std::holds_alternative<registry::Filter>(made));
  const int64_t id = std::get<registry::Filter>(made).id;
  const ActorType& type = *service.actors.find("filters");
  YAML::Node config;
  config["registry"] = service.store.path();
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  auto logic = type.create(context);
  logic->open(context);
  auto evaluate = [&](const std::vector<RecordPtr>& records) {
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
    return out.forwarded_records;
  };
  auto active = [&] { return std::get<registry::Filter>(service.store.filter(service.alice, id)).active; };
  // Version 1's message hangs at the old webhook; version 2 writes to a healthy one.
  REQUIRE(evaluate({service.records[0]}) == 1);
  REQUIRE(old_hook.wait_for_connection(std::chrono::seconds(20)));
  ebs::test::RecordingWebhook healthy;
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.update_filter(
      service.alice, id, std::nullopt, std::vector<registry::Output>{{registry::Output::Kind::webhook, healthy.url()}})));
  REQUIRE(evaluate({service.records[1]}) == 1);
  REQUIRE(healthy.wait_for_requests(1));
  // The old output fails after the switch: version 2 keeps running.
  old_hook.close();
  REQUIRE(ebs::test::wait_until([&] { return logic->output().find(", 1 let go by failed outputs") != std::string::npos; },
                                std::chrono::seconds(30)));
  for (int i = 0; i < 5; ++i) {
    CollectingEmitter tick;
    logic->on_tick(tick);
  }
  CHECK(active());
  REQUIRE(evaluate({service.records[2]}) == 1);  // a batch's end looks at the outputs too
  CHECK(active());
  // Version 3 writes to a webhook that fails: paused for it.
  ebs::test::HangingEndpoint failing;
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.update_filter(
      service.alice, id, std::nullopt, std::vector<registry::Output>{{registry::Output::Kind::webhook, failing.url()}})));
  REQUIRE(evaluate({service.records[3]}) == 1);
  REQUIRE(failing.wait_for_connection(std::chrono::seconds(20)));
  failing.close();
  REQUIRE(ebs::test::wait_until([&] {
    CollectingEmitter tick;
    logic->on_tick(tick);
    return !active();
  }, std::chrono::seconds(30)));
  // Resumed with another output, which fails too: paused again, for that one.
  ebs::test::HangingEndpoint next;
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.update_filter(
      service.alice, id, std::nullopt, std::vector<registry::Output>{{registry::Output::Kind::webhook, next.url()}})));
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.set_active(service.alice, id, true, "")));
  REQUIRE(evaluate({service.records[4]}) == 1);
  REQUIRE(next.wait_for_connection(std::chrono::seconds(20)));
  next.close();
  CHECK(ebs::test::wait_until([&] {
    CollectingEmitter tick;
    logic->on_tick(tick);
    return !active();
  }, std::chrono::seconds(30)));
  CHECK(std::get<registry::Filter>(service.store.filter(service.alice, id)).paused_reason.find(next.url()) !=
        std::string::npos);
  CollectingEmitter end;
  logic->on_end_of_stream(end);
}

TEST_CASE("an output that failed and was replaced when its filter resumed still counts the message it had in flight") {
  SqlFilterService service;
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("alice", {.max_alerts_per_second = 1e9})));
  ebs::test::HangingEndpoint hook;  // its requests hang until it closes
  auto made = service.store.create_filter(service.alice, "all", "mag < 99", {{registry::Output::Kind::webhook, hook.url()}});
  REQUIRE(std::holds_alternative<registry::Filter>(made));
  const int64_t id = std::get<registry::Filter>(made).id;
  const ActorType& type = *service.actors.find("filters");
  YAML::Node config;
  config["registry"] = service.store.path();
  config["output_queue"] = 2;
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  auto logic = type.create(context);
  logic->open(context);
  auto evaluate = [&](const std::vector<RecordPtr>& records) {
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, records, {}), out);
    return out.forwarded_records;
  };
  // The first output's message in flight, hanging.
  REQUIRE(evaluate({service.records[0]}) == 1);
  REQUIRE(hook.wait_for_connection(std::chrono::seconds(20)));
  // A batch of them all fills its queue of 2: the output fails (2 let go, the rest refused), the
  // filter is paused; the message in flight is still out.
  const size_t passed = evaluate(service.records);
  REQUIRE(passed > 3);
  REQUIRE(!std::get<registry::Filter>(service.store.filter(service.alice, id)).active);
  // Resumed by its owner: the next batch replaces the failed output by a fresh one (its message hangs too).
  REQUIRE(std::holds_alternative<registry::Filter>(service.store.set_active(service.alice, id, true, "")));
  REQUIRE(evaluate({service.records[0]}) == 1);
  // The endpoint goes away: the replaced output's request in flight fails, and is counted with
  // the others let go (2 + 1), beside the fresh output's (1).
  hook.close();
  REQUIRE(ebs::test::wait_until([&] { return logic->output().find(", 4 let go by failed outputs") != std::string::npos; },
                                std::chrono::seconds(30)));
  const std::vector<std::string> warnings = logic->closing_warnings();
  CHECK(std::find(warnings.begin(), warnings.end(),
                  "3 messages not confirmed delivered by 1 outputs retired (failed and started afresh when their "
                  "filters resumed, or no longer in their filters' new versions); kept as dead letters unless counted as "
                  "dropped") != warnings.end());
  CHECK(std::find(warnings.begin(), warnings.end(),
                  std::to_string(passed - 2) + " alerts not delivered: refused by an output that had failed (its filter "
                                               "paused); kept as dead letters (kind `undelivered`) unless counted as "
                                               "dropped below") != warnings.end());
}

TEST_CASE("a store that refuses the outputs' counts neither fails nor dead-letters a batch; the counts not written are "
          "written at the next write") {
  SqlFilterService service;
  REQUIRE(std::holds_alternative<registry::User>(service.store.set_limits("alice", {.max_alerts_per_second = 1e9})));
  ebs::test::HangingEndpoint hook;
  auto made = service.store.create_filter(service.alice, "bright", "mag < 18.5",
                                          {{registry::Output::Kind::webhook, hook.url()}});
  REQUIRE(std::holds_alternative<registry::Filter>(made));
  const int64_t id = std::get<registry::Filter>(made).id;
  auto logic = service.tag_count_instance();
  size_t passed = 0;
  {
    CollectingEmitter out;
    logic->on_batch(0, BatchView::make(PortType::alert, service.records, {}), out);
    passed = out.forwarded_records;
  }
  REQUIRE(passed > 0);
  // The store refuses the counts' write, and only it (the claims and the pause go through): a
  // SQLite error as a locked or read-only file gives, on that one statement.
  sqlite::Database other(service.dir.file("filters.sqlite"), sqlite::Database::Mode::read_write);
  other.execute("CREATE TRIGGER refuse_counts BEFORE INSERT ON output_counts BEGIN SELECT RAISE(ABORT, 'counts refused'); END");
  // The webhook goes away: its output fails and dead-letters every message (counted).
  hook.close();
  size_t letters = 0;
  REQUIRE(ebs::test::wait_until([&] {
    CollectingEmitter tick;
    logic->on_tick(tick);
    letters += tick.records(1).size();
    return letters >= passed;
  }, std::chrono::seconds(30)));
  // The next batch pauses the failed output's filter, which writes the counts at once (refused):
  // the batch is still forwarded whole, nothing failed or dead-lettered.
  CollectingEmitter second;
  CHECK_NOTHROW(logic->on_batch(0, BatchView::make(PortType::alert, service.records, {}), second));
  CHECK(second.forwarded_records + second.filtered_records == service.records.size());
  CHECK(second.failed_records == 0);
  letters += second.records(1).size();  // undelivered messages (refused by the failed output), not failures
  registry::Filter now = std::get<registry::Filter>(service.store.filter(service.alice, id));
  CHECK(!now.active);
  REQUIRE(now.output_counts.size() == 1);
  CHECK(now.output_counts[0] == registry::OutputCounts{});  // not written
  // The store takes them again: the end of the stream writes every count the refused writes had.
  other.execute("DROP TRIGGER refuse_counts");
  CollectingEmitter end;
  CHECK_NOTHROW(logic->on_end_of_stream(end));
  letters += end.records(1).size();
  now = std::get<registry::Filter>(service.store.filter(service.alice, id));
  REQUIRE(now.output_counts.size() == 1);
  CHECK(letters >= passed);
  CHECK(now.output_counts[0].dead_lettered == static_cast<int64_t>(letters));
  CHECK(now.output_counts[0].delivered == 0);
}

TEST_CASE("the topics the workflow's kafka sources read are reserved when the filters actor opens, a pattern too") {
  SqlFilterService service;
  ActorRegistry actors;
  register_builtin_actors(actors);  // the kafka source's type, through test/support (families do not include each other)
  const std::string yaml =
      "name: relay\nactors:\n"
      "  - {id: src, type: kafka, config: {topics: [relay-in, '^ztf-[0-9]+$'], group: g, bootstrap.servers: "
      "'127.0.0.1:9'}}\n"
      "  - {id: f, type: filters, inputs: [src.alerts], config: {registry: '" + service.store.path() + "'}}\n";
  std::vector<Problem> problems;
  auto doc = parse_workflow_text(yaml, "relay.yaml", problems);
  REQUIRE(doc);
  std::optional<Workflow> workflow = build_workflow(*doc, actors, problems);
  for (const Problem& p : problems) INFO(format_problem(p));
  REQUIRE(workflow);
  const ActorType& type = *actors.find("filters");
  YAML::Node config;
  config["registry"] = service.store.path();
  ActorContext context = ebs::test::make_context(type, YAML::Dump(config));
  context.workflow = &*workflow;
  auto logic = type.create(context);
  logic->open(context);
  CHECK(service.store.reserved_topics() ==
        std::map<std::string, std::string>{{"relay-in", "workflow 'relay'"}, {"^ztf-[0-9]+$", "workflow 'relay'"}});
  auto refused = [&](const std::string& topic) {
    auto made = service.store.create_filter(service.alice, "x", "mag < 18", {{registry::Output::Kind::kafka, topic}});
    return std::holds_alternative<registry::Refusal>(made) ? std::get<registry::Refusal>(made).status : 0;
  };
  CHECK(refused("relay-in") == 403);
  CHECK(refused("ztf-20261206") == 403);
  CHECK(refused("ztf-public") == 0);
}
