#include "actors/common/filter_registry/filter_registry.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>

#include "test/support/old_filter_store.h"

using namespace ebs::filter_registry;

namespace {

struct TempStore {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("filter_registry_test_" + std::to_string(::getpid()));
  TempStore() { std::filesystem::create_directories(dir); }
  ~TempStore() { std::filesystem::remove_all(dir); }
  std::string path() const { return (dir / "filters.sqlite").string(); }
};

template <typename T>
T ok(Answer<T> answer) {
  if (auto* refusal = std::get_if<Refusal>(&answer)) FAIL("refused: " << refusal->status << " " << refusal->message);
  return std::get<T>(std::move(answer));
}

template <typename T>
Refusal refused(Answer<T> answer) {
  REQUIRE(std::holds_alternative<Refusal>(answer));
  return std::get<Refusal>(answer);
}

const std::vector<Output> kTopic{{Output::Kind::kafka, "alice-bright"}};

// The tables of the first layout (store version 0, main at 9d9af33), with the effects' source
// sequence its stores had gained by then.
constexpr const char* kFirstLayout = R"sql(
CREATE TABLE users(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, admin INTEGER NOT NULL,
  max_filters INTEGER NOT NULL, max_alerts_per_second REAL NOT NULL, max_expression_cost INTEGER NOT NULL);
CREATE TABLE tokens(
  sha256 TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued TEXT NOT NULL DEFAULT (datetime('now')), revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE filters(
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL, version INTEGER NOT NULL, active INTEGER NOT NULL, paused_reason TEXT NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX filters_by_name ON filters(user_id, name) WHERE removed = 0;
CREATE TABLE filter_versions(
  filter_id INTEGER NOT NULL REFERENCES filters(id) ON DELETE CASCADE, version INTEGER NOT NULL,
  expression TEXT NOT NULL, outputs TEXT NOT NULL, created TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY(filter_id, version));
CREATE TABLE filter_effects(
  filter_id INTEGER NOT NULL, version INTEGER NOT NULL, instance TEXT NOT NULL, alert_sequence INTEGER NOT NULL,
  logged TEXT NOT NULL DEFAULT (datetime('now')), source_sequence INTEGER NOT NULL DEFAULT -1);
CREATE TABLE revision(n INTEGER NOT NULL);
)sql";

}  // namespace

TEST_CASE("tokens are shown once, stored hashed, rotated and revoked") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  CHECK(refused(registry.create_user("alice", false, {})).status == 409);
  std::string first = ok(registry.issue_token("alice", false));
  CHECK(first.starts_with("ebs_"));
  REQUIRE(registry.authenticate(first));
  CHECK(registry.authenticate(first)->name == "alice");
  CHECK(!registry.authenticate("ebs_wrong"));
  CHECK(!registry.authenticate(""));
  // Only the hash is on disk.
  ebs::sqlite::Database db(store.path(), ebs::sqlite::Database::Mode::read_only);
  auto s = db.prepare("SELECT sha256 FROM tokens");
  REQUIRE(s.step());
  CHECK(s.text(0).size() == 64);
  CHECK(s.text(0).find(first.substr(4)) == std::string_view::npos);
  std::string second = ok(registry.issue_token("alice", true));  // rotate
  CHECK(!registry.authenticate(first));
  CHECK(registry.authenticate(second));
  CHECK(ok(registry.revoke_tokens("alice")) == 1);
  CHECK(!registry.authenticate(second));
  CHECK(refused(registry.issue_token("nobody", false)).status == 404);
  (void)alice;
}

TEST_CASE("a user changes only their own filters; an admin any; versions count up") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  User bob = ok(registry.create_user("bob", false, {}));
  User admin = ok(registry.create_user("root", true, {}));
  int64_t revision = registry.revision();
  Filter f = ok(registry.create_filter(alice, "bright", "mag < 18", kTopic));
  CHECK(f.version == 1);
  CHECK(registry.revision() > revision);
  CHECK(refused(registry.filter(bob, f.id)).status == 403);
  CHECK(refused(registry.update_filter(bob, f.id, "mag < 10", std::nullopt)).status == 403);
  CHECK(refused(registry.remove_filter(bob, f.id)).status == 403);
  CHECK(refused(registry.filter(bob, 999)).status == 404);
  CHECK(registry.filters(bob).empty());
  CHECK(registry.filters(admin).size() == 1);
  Filter g = ok(registry.update_filter(alice, f.id, "mag < 17.5", std::nullopt));
  CHECK(g.version == 2);
  CHECK(g.expression == "mag < 17.5");
  CHECK(g.outputs[0].target == "alice-bright");
  Filter paused = ok(registry.set_active(admin, f.id, false, "by root"));
  CHECK(!paused.active);
  CHECK(paused.paused_reason == "by root");
  CHECK(registry.active_filters().empty());
  ok(registry.set_active(alice, f.id, true, ""));
  CHECK(registry.active_filters().size() == 1);
  registry.pause_for_failures({{f.id, "webhook http://x timed out"}});
  CHECK(ok(registry.filter(alice, f.id)).paused_reason == "webhook http://x timed out");
  CHECK(ok(registry.remove_filter(alice, f.id)));
  CHECK(refused(registry.filter(alice, f.id)).status == 404);
  // The name is free again once the filter is removed.
  ok(registry.create_filter(alice, "bright", "mag < 18", kTopic));
  ok(registry.remove_user("bob"));
  CHECK(!registry.authenticate("x"));
}

TEST_CASE("limits and bad input are refused with the reason") {
  TempStore store;
  FilterRegistry registry(store.path());
  Limits limits;
  limits.max_filters = 2;
  limits.max_expression_cost = 7;
  User carol = ok(registry.create_user("carol", false, limits));
  Refusal bad = refused(registry.create_filter(carol, "x", "mag <", kTopic));
  CHECK(bad.status == 400);
  CHECK(bad.message.find("does not compile") != std::string::npos);
  Refusal costly = refused(registry.create_filter(carol, "x", "mag < 18 and dec > 0 and ra < 10", kTopic));
  CHECK(costly.status == 422);
  CHECK(costly.message.find("11 nodes") != std::string::npos);
  CHECK(refused(registry.create_filter(carol, "x", "mag < 18", {})).status == 400);
  CHECK(refused(registry.create_filter(carol, "x", "mag < 18", {{Output::Kind::webhook, "ftp://x"}})).status == 400);
  CHECK(refused(registry.create_filter(carol, "x", "mag < 18", {{Output::Kind::kafka, "a topic"}})).status == 400);
  // Formats: json, avro and avro-confluent topics; a webhook is JSON only.
  Refusal format = refused(registry.create_filter(carol, "x", "mag < 18", {{Output::Kind::kafka, "t", "protobuf"}}));
  CHECK(format.status == 400);
  CHECK(format.message == "an output's format is json, avro or avro-confluent, not 'protobuf'");
  Refusal framed_hook =
      refused(registry.create_filter(carol, "x", "mag < 18", {{Output::Kind::webhook, "http://x/hook", "avro-confluent"}}));
  CHECK(framed_hook.status == 400);
  CHECK(framed_hook.message == "only a kafka output can be avro-confluent (a webhook output is JSON)");
  ok(registry.create_filter(carol, "a", "mag < 18", kTopic));
  CHECK(refused(registry.create_filter(carol, "a", "mag < 18", kTopic)).status == 409);
  ok(registry.create_filter(carol, "b", "mag < 18", kTopic));
  Refusal full = refused(registry.create_filter(carol, "c", "mag < 18", kTopic));
  CHECK(full.status == 429);
  CHECK(full.message.find("limit") != std::string::npos);
}

TEST_CASE("the log of versions taking effect") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  Filter f = ok(registry.create_filter(alice, "bright", "mag < 18", kTopic));
  registry.record_effects("run", 0, 2, {{f.id, 1, "users#0", 0, 0}, {f.id, 2, "users#0", 512, 7}});
  auto effects = registry.effects(f.id);
  REQUIRE(effects.size() == 2);
  CHECK(effects[1].version == 2);
  CHECK(effects[1].sequence == 512);
  CHECK(effects[1].source_sequence == 7);
  CHECK(effects[1].attempt == kFirstAttempt);  // one process: the first attempt
  // After `on_node_loss: restart` the next attempt (epoch 2) logs its own points, from source sequence 0.
  registry.record_effects("run/attempt 2", 0, 2, {{f.id, 2, "users#0@a", 0, 0, 2}});
  effects = registry.effects(f.id);
  REQUIRE(effects.size() == 3);
  CHECK(effects[2].attempt == 2);
  CHECK(effects[2].source_sequence == 0);
}

TEST_CASE("switch points: one per revision, after every batch any instance claimed, with the versions of then") {
  TempStore store;
  FilterRegistry one(store.path()), two(store.path());  // two instances, each its own connection
  User alice = ok(one.create_user("alice", false, {}));
  Filter f = ok(one.create_filter(alice, "bright", "mag < 18", kTopic));
  // The first claim of a run makes its first switch point, from sequence 0.
  auto first = one.claim("run", 0, 1, -1).points;
  REQUIRE(first.size() == 1);
  CHECK(first[0].sequence == 0);
  REQUIRE(first[0].filters.size() == 1);
  CHECK(first[0].filters[0].expression == "mag < 18");
  CHECK(two.claim("run", 1, 2, -1).points.size() == 1);  // the same point, not a new one
  CHECK(one.claim("run", 0, 3, first[0].revision).points.empty());
  // A new version while instance 1 is at 5 and instance 0 at 3: it starts at 6, for both.
  CHECK(two.claim("run", 1, 5, first[0].revision).points.empty());
  ok(one.update_filter(alice, f.id, std::string("mag < 17"), std::nullopt));
  auto by_zero = one.claim("run", 0, 4, first[0].revision).points;
  REQUIRE(by_zero.size() == 1);
  CHECK(by_zero[0].sequence == 6);
  REQUIRE(by_zero[0].filters.size() == 1);
  CHECK(by_zero[0].filters[0].version == 2);
  CHECK(by_zero[0].filters[0].expression == "mag < 17");
  auto by_one = two.claim("run", 1, 6, first[0].revision).points;
  REQUIRE(by_one.size() == 1);
  CHECK(by_one[0].sequence == 6);
  CHECK(by_one[0].revision == by_zero[0].revision);
  // Another run's instances agree among themselves, from their own sequence 0.
  auto other = one.claim("other run", 0, 1, -1).points;
  REQUIRE(other.size() == 1);
  CHECK(other[0].sequence == 0);
  CHECK(other[0].filters[0].version == 2);
}

TEST_CASE("a claim answers what the instance's index claimed and logged before: a failover's replacement resumes there") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  Filter f = ok(registry.create_filter(alice, "bright", "mag < 18", kTopic));
  // Instance 1 claims through 9 and logs the first point; then a change, whose point (10) it
  // claims but never logs: it is lost with its node.
  Claim first = registry.claim("run", 1, 9, -1);
  CHECK(first.claimed_through == 9);
  CHECK(first.applied_revision == -1);  // nothing logged before: a fresh instance
  REQUIRE(first.points.size() == 1);
  registry.record_effects("run", 1, first.points[0].revision, {{f.id, 1, "users#1@b", 0, 0}});
  ok(registry.update_filter(alice, f.id, std::string("mag < 17"), std::nullopt));
  Claim second = registry.claim("run", 1, 12, first.points[0].revision);
  REQUIRE(second.points.size() == 1);
  CHECK(second.points[0].sequence == 10);
  // Its replacement asks from the start, for a replayed batch (4): every point, the index's claim
  // (12: every point up to it is known) and the newest point it logged (the first, not the second).
  Claim resumed = registry.claim("run", 1, 4, -1);
  CHECK(resumed.points.size() == 2);
  CHECK(resumed.claimed_through == 12);
  CHECK(resumed.applied_revision == first.points[0].revision);
  // The other instance's index, and another run's, start afresh.
  CHECK(registry.claim("run", 0, 3, -1).applied_revision == -1);
  CHECK(registry.claim("run", 0, 3, -1).claimed_through == 3);
  CHECK(registry.claim("other run", 1, 2, -1).claimed_through == 2);
  // Logged once the replacement puts the second point in force: noted, never lowered.
  registry.record_effects("run", 1, second.points[0].revision, {{f.id, 2, "users#1@a", 5, 10}});
  registry.record_effects("run", 1, first.points[0].revision, {});
  CHECK(registry.claim("run", 1, 13, -1).applied_revision == second.points[0].revision);
}

TEST_CASE("SQL filters: a wrong query is refused with its place, a per-user limit, the kind kept across versions") {
  TempStore store;
  FilterRegistry registry(store.path());
  Limits limits;
  limits.max_sql_filters = 2;
  User alice = ok(registry.create_user("alice", false, limits));
  Filter seen = ok(registry.create_filter(alice, "seen", "SELECT ndet FROM objects WHERE object_id = :object_id AND ndet >= 3",
                                          kTopic, Filter::Kind::sql));
  CHECK(seen.kind == Filter::Kind::sql);
  CHECK(ok(registry.filter(alice, seen.id)).kind == Filter::Kind::sql);
  // The check is `sql-filter`'s: the message, the nearest names, a caret under the place.
  Refusal typo = refused(registry.create_filter(alice, "typo", "SELECT 1 FROM objects o WHERE o.ndett >= 3", kTopic,
                                                Filter::Kind::sql));
  CHECK(typo.status == 400);
  CHECK(typo.message == "the query is wrong:\ncolumn 31: no such column: o.ndett (did you mean 'ndet'?)\n"
                        "  SELECT 1 FROM objects o WHERE o.ndett >= 3\n"
                        "  " + std::string(30, ' ') + "^");
  CHECK(refused(registry.create_filter(alice, "write", "DELETE FROM objects", kTopic, Filter::Kind::sql))
            .message.find("only read") != std::string::npos);
  CHECK(refused(registry.create_filter(alice, "param", "SELECT 1 WHERE :magg < 19", kTopic, Filter::Kind::sql))
            .message.find("unknown parameter :magg (did you mean ':mag'") != std::string::npos);
  // An expression is not SQL, and the other way round.
  CHECK(refused(registry.create_filter(alice, "mixed", "mag < 18", kTopic, Filter::Kind::sql)).status == 400);
  CHECK(refused(registry.update_filter(alice, seen.id, "mag < 18", std::nullopt)).message.find("give its new `sql`") !=
        std::string::npos);
  Filter v2 = ok(registry.update_filter(alice, seen.id, "SELECT 1 FROM objects WHERE object_id = :object_id AND ndet >= 4",
                                        std::nullopt, Filter::Kind::sql));
  CHECK(v2.version == 2);
  CHECK(v2.kind == Filter::Kind::sql);
  // The limit on SQL filters; expressions are still allowed up to `max_filters`.
  ok(registry.create_filter(alice, "second", "SELECT 1 WHERE :mag < 18", kTopic, Filter::Kind::sql));
  Refusal over = refused(registry.create_filter(alice, "third", "SELECT 1 WHERE :mag < 17", kTopic, Filter::Kind::sql));
  CHECK(over.status == 429);
  CHECK(over.message.find("2 SQL filters, the limit") != std::string::npos);
  ok(registry.create_filter(alice, "bright", "mag < 18", kTopic));
  // Switch points carry the kind.
  auto points = registry.claim("run", 0, 1, -1).points;
  REQUIRE(points.size() == 1);
  std::map<std::string, Filter::Kind> kinds;
  for (const Filter& f : points[0].filters) kinds[f.name] = f.kind;
  CHECK(kinds == std::map<std::string, Filter::Kind>{
                     {"seen", Filter::Kind::sql}, {"second", Filter::Kind::sql}, {"bright", Filter::Kind::expression}});
  CHECK(registry.users()[0].limits.max_sql_filters == 2);
}

TEST_CASE("a user's own limit on SQL steps per alert: stored, read back, a negative one refused") {
  TempStore store;
  FilterRegistry registry(store.path());
  Limits limits;
  limits.max_sql_steps = 50'000;
  ok(registry.create_user("alice", false, limits));
  ok(registry.create_user("bob", false, Limits{}));
  limits.max_sql_steps = -1;
  Refusal negative = refused(registry.create_user("carol", false, limits));
  CHECK(negative.status == 400);
  CHECK(negative.message.find("must not be negative") != std::string::npos);
  std::map<std::string, int64_t> steps;
  for (const User& u : FilterRegistry(store.path()).users()) steps[u.name] = u.limits.max_sql_steps;
  CHECK(steps == std::map<std::string, int64_t>{{"alice", 50'000}, {"bob", Limits{}.max_sql_steps}});
  CHECK(Limits{}.max_sql_steps == ebs::repository::kDefaultQueryStepLimit);
}

TEST_CASE("a user's limits changed in place: tokens and filters kept, new filters refused under a lowered limit") {
  TempStore store;
  FilterRegistry registry(store.path());
  User dave = ok(registry.create_user("dave", false, Limits{}));
  const std::string token = ok(registry.issue_token("dave", false));
  ok(registry.create_filter(dave, "a", "mag < 18", kTopic));
  ok(registry.create_filter(dave, "b", "mag < 19 and dec > 0", kTopic));
  const int64_t revision = registry.revision();
  const LimitsChange lower{.max_filters = 1, .max_alerts_per_second = 5, .max_expression_cost = 3, .max_sql_filters = 0,
                           .max_sql_steps = 20'000};
  User changed = ok(registry.set_limits("dave", lower));
  CHECK(changed.limits.max_filters == 1);
  CHECK(changed.limits.max_sql_steps == 20'000);
  CHECK(registry.revision() == revision + 1);  // a running `filters` actor reads them at the switch point this makes
  // The token still works and answers with the new limits; both filters stay, active.
  std::optional<User> now = registry.authenticate(token);
  REQUIRE(now);
  CHECK(now->limits.max_alerts_per_second == 5);
  CHECK(now->limits.max_expression_cost == 3);
  std::vector<Filter> filters = registry.filters(*now);
  REQUIRE(filters.size() == 2);
  CHECK((filters[0].active && filters[1].active));
  CHECK(registry.active_filters().size() == 2);
  // Above the lowered limit: no new filter (429) until there are fewer; paused and resumed, a
  // filter keeps its place; an update must fit the lowered cost.
  Refusal full = refused(registry.create_filter(*now, "c", "mag < 17", kTopic));
  CHECK(full.status == 429);
  CHECK(full.message == "'dave' has 2 filters, the limit");
  ok(registry.set_active(*now, filters[1].id, false, "by dave"));
  ok(registry.set_active(*now, filters[1].id, true, ""));
  CHECK(refused(registry.update_filter(*now, filters[1].id, std::string("mag < 19 and dec > 1"), std::nullopt)).status == 422);
  ok(registry.update_filter(*now, filters[0].id, std::string("mag < 17"), std::nullopt));
  ok(registry.remove_filter(*now, filters[1].id));
  CHECK(refused(registry.create_filter(*now, "c", "mag < 17", kTopic)).status == 429);  // one, the limit
  ok(registry.remove_filter(*now, filters[0].id));
  ok(registry.create_filter(*now, "c", "mag < 17", kTopic));
  // Read back from the file; an unknown user, a negative limit refused (nothing changed).
  std::map<std::string, int64_t> max_filters;
  for (const User& u : FilterRegistry(store.path()).users()) max_filters[u.name] = u.limits.max_filters;
  CHECK(max_filters == std::map<std::string, int64_t>{{"dave", 1}});
  CHECK(refused(registry.set_limits("erin", LimitsChange{.max_filters = 3})).status == 404);
  Refusal bad = refused(registry.set_limits("dave", LimitsChange{.max_filters = -1}));
  CHECK(bad.status == 400);
  CHECK(bad.message == "the limit `filters` must not be negative");
  // A change of nothing is refused (it would make a switch point for nothing).
  const int64_t before = registry.revision();
  CHECK(refused(registry.set_limits("dave", LimitsChange{})).status == 400);
  CHECK(refused(registry.set_limits("erin", LimitsChange{})).status == 404);  // no such user, whatever the change
  CHECK(registry.revision() == before);
  Limits negative;
  negative.max_alerts_per_second = -0.5;
  CHECK(refused(registry.create_user("erin", false, negative)).message == "the limit `alerts_per_second` must not be negative");
  CHECK(registry.authenticate(token)->limits.max_filters == 1);
}

TEST_CASE("a change of some limits keeps the others, as stored then: two connections changing different limits both take") {
  TempStore store;
  FilterRegistry one(store.path()), two(store.path());
  ok(one.create_user("dave", false, Limits{}));
  // `two` read dave's limits before `one` changed them: its change names only the limit it
  // changes, merged with the stored ones in its own write transaction, so `one`'s stays.
  CHECK(two.users().at(0).limits.max_filters == Limits{}.max_filters);
  ok(one.set_limits("dave", LimitsChange{.max_filters = 3}));
  User changed = ok(two.set_limits("dave", LimitsChange{.max_sql_steps = 7'000}));
  CHECK(changed.limits.max_filters == 3);
  CHECK(changed.limits.max_sql_steps == 7'000);
  CHECK(changed.limits.max_alerts_per_second == Limits{}.max_alerts_per_second);
  const Limits stored = one.users().at(0).limits;
  CHECK(stored.max_filters == 3);
  CHECK(stored.max_sql_steps == 7'000);
  // A change that would make one negative changes none.
  CHECK(refused(one.set_limits("dave", LimitsChange{.max_filters = 5, .max_sql_steps = -1})).status == 400);
  CHECK(one.users().at(0).limits.max_filters == 3);
  // Removed by one connection, changed by the other: 404, not a row read after it went.
  ok(one.remove_user("dave"));
  CHECK(refused(two.set_limits("dave", LimitsChange{.max_filters = 1})).status == 404);
}

TEST_CASE("a switch point carries its owners' limits as they were when it was made, for every instance that claims it") {
  TempStore store;
  FilterRegistry registry(store.path());
  Limits limits;
  limits.max_alerts_per_second = 7;
  limits.max_sql_steps = 30'000;
  User dave = ok(registry.create_user("dave", false, limits));
  ok(registry.create_user("erin", false, Limits{}));  // no filter: not one of the point's owners
  ok(registry.create_filter(dave, "a", "mag < 18", kTopic));
  std::vector<SwitchPoint> first = registry.claim("run", 0, 1, -1).points;
  REQUIRE(first.size() == 1);
  REQUIRE(first[0].limits.size() == 1);
  CHECK(first[0].limits.at("dave").max_alerts_per_second == 7);
  CHECK(first[0].limits.at("dave").max_sql_steps == 30'000);
  // Changed after the point was made: the other instance, claiming it later, gets the limits of
  // then; the change's own switch point the new ones.
  ok(registry.set_limits("dave", LimitsChange{.max_alerts_per_second = 2, .max_sql_steps = 500}));
  FilterRegistry other(store.path());
  std::vector<SwitchPoint> late = other.claim("run", 1, 1, -1).points;
  REQUIRE(late.size() == 2);
  CHECK(late[0].revision == first[0].revision);
  CHECK(late[0].limits.at("dave").max_alerts_per_second == 7);
  CHECK(late[0].limits.at("dave").max_sql_steps == 30'000);
  CHECK(late[1].limits.at("dave").max_alerts_per_second == 2);
  CHECK(late[1].limits.at("dave").max_sql_steps == 500);
}

TEST_CASE("a store of the first layout (user_version 0) is migrated: its filters are expressions, SQL filters can be added") {
  TempStore store;
  {
    // The layout of stores made before SQL filters (main at 9d9af33), with a user and a filter.
    ebs::sqlite::Database old(store.path(), ebs::sqlite::Database::Mode::read_write);
    old.execute(std::string(kFirstLayout) + R"sql(
INSERT INTO revision VALUES(3);
INSERT INTO users VALUES(1, 'alice', 0, 20, 50, 40);
INSERT INTO filters VALUES(1, 1, 'bright', 2, 1, '', 0);
INSERT INTO filter_versions(filter_id, version, expression, outputs) VALUES(1, 1, 'mag < 18', '[{"kind":"kafka","target":"t"}]');
INSERT INTO filter_versions(filter_id, version, expression, outputs) VALUES(1, 2, 'mag < 17', '[{"kind":"kafka","target":"t"}]');
)sql");
    CHECK(old.scalar("PRAGMA user_version") == 0);
  }
  FilterRegistry registry(store.path());
  {
    ebs::sqlite::Database db(store.path(), ebs::sqlite::Database::Mode::read_only);
    CHECK(db.scalar("PRAGMA user_version") == kStoreVersion);
    CHECK(db.scalar("SELECT count(*) FROM filter_versions WHERE kind = 'expression'") == 2);
  }
  CHECK(registry.revision() == 3);
  User alice = registry.users().at(0);
  CHECK(alice.limits.max_sql_filters == Limits{}.max_sql_filters);
  CHECK(alice.limits.max_sql_steps == Limits{}.max_sql_steps);  // layout 2
  Filter bright = ok(registry.filter(alice, 1));
  CHECK(bright.kind == Filter::Kind::expression);
  CHECK(bright.expression == "mag < 17");
  CHECK(bright.version == 2);
  Filter sql = ok(registry.create_filter(alice, "seen", "SELECT 1 FROM objects WHERE object_id = :object_id", kTopic,
                                         Filter::Kind::sql));
  CHECK(sql.kind == Filter::Kind::sql);
  // Opened again: already at the current layout, nothing to do.
  FilterRegistry again(store.path());
  CHECK(again.filters(alice).size() == 2);
}

TEST_CASE("a store of layout 2 (before the attempt column) is migrated: its effects say their attempt was not recorded") {
  TempStore store;
  {
    // The layout main at b8fda85 made (user_version 2): the first layout's tables with the columns
    // its migrations added and the switch tables, a user, a filter of two versions, its effects and
    // a switch point.
    ebs::sqlite::Database old(store.path(), ebs::sqlite::Database::Mode::read_write);
    old.execute(std::string(kFirstLayout) + R"sql(
ALTER TABLE filter_versions ADD COLUMN kind TEXT NOT NULL DEFAULT 'expression';
ALTER TABLE users ADD COLUMN max_sql_filters INTEGER NOT NULL DEFAULT 5;
ALTER TABLE users ADD COLUMN max_sql_steps INTEGER NOT NULL DEFAULT 2000000;
CREATE TABLE switch_claims(
  run TEXT NOT NULL, instance INTEGER NOT NULL, source_sequence INTEGER NOT NULL,
  applied_revision INTEGER NOT NULL DEFAULT -1, PRIMARY KEY(run, instance));
CREATE TABLE switch_points(
  run TEXT NOT NULL, revision INTEGER NOT NULL, source_sequence INTEGER NOT NULL, PRIMARY KEY(run, revision));
CREATE TABLE switch_filters(
  run TEXT NOT NULL, revision INTEGER NOT NULL, filter_id INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE switch_limits(
  run TEXT NOT NULL, revision INTEGER NOT NULL, user_id INTEGER NOT NULL, max_alerts_per_second REAL NOT NULL,
  max_sql_steps INTEGER NOT NULL);
INSERT INTO revision VALUES(2);
INSERT INTO users VALUES(1, 'alice', 0, 20, 50, 40, 5, 30000);
INSERT INTO filters VALUES(1, 1, 'bright', 2, 1, '', 0);
INSERT INTO filter_versions VALUES(1, 1, 'mag < 18', '[{"kind":"kafka","target":"t"}]', datetime('now'), 'expression');
INSERT INTO filter_versions VALUES(1, 2, 'mag < 17', '[{"kind":"kafka","target":"t"}]', datetime('now'), 'expression');
INSERT INTO filter_effects(filter_id, version, instance, alert_sequence, source_sequence) VALUES(1, 1, 'users#0', 0, 0);
INSERT INTO filter_effects(filter_id, version, instance, alert_sequence, source_sequence) VALUES(1, 2, 'users#0', 40, 9);
INSERT INTO switch_points VALUES('old run', 2, 9);
PRAGMA user_version = 2;
)sql");
  }
  FilterRegistry registry(store.path());
  {
    ebs::sqlite::Database db(store.path(), ebs::sqlite::Database::Mode::read_only);
    CHECK(db.scalar("PRAGMA user_version") == kStoreVersion);
  }
  CHECK(registry.revision() == 2);
  User alice = registry.users().at(0);
  CHECK(alice.limits.max_sql_steps == 30000);
  // The effects logged before say their attempt was not recorded (a restart's were told apart
  // only by their order); new ones carry theirs.
  auto effects = registry.effects(1);
  REQUIRE(effects.size() == 2);
  CHECK(effects[0].attempt == kAttemptNotRecorded);
  CHECK(effects[1].attempt == kAttemptNotRecorded);
  CHECK(effects[1].source_sequence == 9);
  Claim claim = registry.claim("new run", 0, 1, -1);
  REQUIRE(claim.points.size() == 1);
  CHECK(claim.points[0].filters.at(0).expression == "mag < 17");
  registry.record_effects("new run", 0, claim.points[0].revision, {{1, 2, "users#0", 0, 0}});
  effects = registry.effects(1);
  REQUIRE(effects.size() == 3);
  CHECK(effects[2].attempt == kFirstAttempt);
  // Opened again: already at the current layout.
  FilterRegistry again(store.path());
  CHECK(again.effects(1).size() == 3);
}

TEST_CASE("a claim answers at most 16 switch points: the newest of those its batch reached, the rest asked for later") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  Filter f = ok(registry.create_filter(alice, "bright", "mag < 18", kTopic));
  // 40 points: 0 (the first claim), then one per change at 10, 20, ..., 390.
  int64_t known = registry.claim("run", 0, 9, -1).points.back().revision;
  for (int k = 1; k < 40; ++k) {
    ok(registry.update_filter(alice, f.id, "mag < " + std::to_string(k), std::nullopt));
    Claim c = registry.claim("run", 0, 10 * k + 9, known);
    REQUIRE(c.points.size() == 1);
    CHECK(c.points[0].sequence == 10 * k);
    known = c.points[0].revision;
  }
  // A replacement of index 1 asking from the start at batch 395 reached all 40 at once: the 16
  // newest (an instance keeps no more versions), the 24 older left out.
  Claim late = registry.claim("run", 1, 395, -1);
  REQUIRE(late.points.size() == kMaxClaimPoints);
  CHECK(late.skipped == 24);
  CHECK(late.points.front().sequence == 240);
  CHECK(late.points.back().sequence == 390);
  CHECK(late.next_point == -1);
  // One at batch 95 (a replayed batch) reached 10: those, and the 6 after them; the rest it asks
  // for again before its batches reach 160, from the newest it got.
  Claim early = registry.claim("run", 1, 399, -1, 95);
  REQUIRE(early.points.size() == kMaxClaimPoints);
  CHECK(early.skipped == 0);
  CHECK(early.points.front().sequence == 0);
  CHECK(early.points.back().sequence == 150);
  CHECK(early.next_point == 160);
  Claim rest = registry.claim("run", 1, 399, early.points.back().revision, 160);
  CHECK(rest.points.size() == kMaxClaimPoints);
  CHECK(rest.points.front().sequence == 160);
  CHECK(rest.next_point == 320);
  // An instance that knows every point gets none.
  CHECK(registry.claim("run", 0, 400, known).points.empty());
}

TEST_CASE("each output's counts: added up across instances and runs, kept by a new version that keeps the output") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  User bob = ok(registry.create_user("bob", true, {}));  // an admin: his filter may name alice's topic
  const Output hook{Output::Kind::webhook, "http://127.0.0.1:9/hook"};
  Filter f = ok(registry.create_filter(alice, "bright", "mag < 18", {kTopic[0], hook}));
  Filter other = ok(registry.create_filter(bob, "faint", "mag > 20", kTopic));
  const int64_t revision = registry.revision();
  CHECK(ok(registry.filter(alice, f.id)).output_counts == std::vector<OutputCounts>(2));
  // Two instances add what their outputs counted; the same topic of another filter is apart.
  registry.add_output_counts({{f.id, kTopic[0], {10, 0, 0, 5}}, {f.id, hook, {3, 4, 0}}, {other.id, kTopic[0], {7, 0, 0}}});
  registry.add_output_counts({{f.id, hook, {1, 2, 1}}, {f.id, kTopic[0], {0, 0, 0, 2}}});
  CHECK(registry.revision() == revision);  // a status, not a change: no switch point
  const Filter read = ok(registry.filter(alice, f.id));
  CHECK(read.output_counts == std::vector<OutputCounts>{{10, 0, 0, 7}, {4, 6, 1}});
  CHECK(registry.filters(alice).at(0).output_counts == read.output_counts);
  CHECK(ok(registry.filter(bob, other.id)).output_counts == std::vector<OutputCounts>{{7, 0, 0}});
  // The same topic as Avro is another output: counted apart.
  registry.add_output_counts({{f.id, {Output::Kind::kafka, "alice-bright", "avro"}, {5, 0, 0}}});
  CHECK(ok(registry.filter(alice, f.id)).output_counts.at(0).delivered == 10);
  // A new version keeping the webhook keeps its counts; the dropped topic is not shown.
  const Filter updated = ok(registry.update_filter(alice, f.id, std::nullopt, std::vector<Output>{hook}));
  CHECK(updated.output_counts == std::vector<OutputCounts>{{4, 6, 1}});
  // Counts of a filter gone meanwhile (its owner removed) are left out, not a fault.
  ok(registry.remove_user("bob"));
  registry.add_output_counts({{other.id, kTopic[0], {1, 0, 0}}, {f.id, hook, {1, 0, 0}}});
  CHECK(ok(registry.filter(alice, f.id)).output_counts == std::vector<OutputCounts>{{5, 6, 1}});
}

TEST_CASE("a store whose output counts have no rate_limited column gains it: the counts kept, the new ones added") {
  TempStore store;
  int64_t id = 0;
  {
    FilterRegistry registry(store.path());
    User alice = ok(registry.create_user("alice", false, {}));
    id = ok(registry.create_filter(alice, "bright", "mag < 18", kTopic)).id;
  }
  ebs::test::make_counts_table_of_3b34ce4(store.path(), id, kTopic[0].target);  // the table as main at 3b34ce4 made it, with a row
  FilterRegistry registry(store.path());
  const User alice = registry.users().at(0);
  CHECK(ok(registry.filter(alice, id)).output_counts == std::vector<OutputCounts>{{8, 1, 0, 0}});
  registry.add_output_counts({{id, kTopic[0], {1, 0, 0, 3}}});
  CHECK(ok(registry.filter(alice, id)).output_counts == std::vector<OutputCounts>{{9, 1, 0, 3}});
}

namespace {

std::vector<Output> topic(const std::string& name) { return {{Output::Kind::kafka, name}}; }

}  // namespace

TEST_CASE("a Kafka topic belongs to the user whose filter named it first: another user's filter is refused") {
  TempStore store;
  FilterRegistry registry(store.path());
  User alice = ok(registry.create_user("alice", false, {}));
  User bob = ok(registry.create_user("bob", false, {}));
  User root = ok(registry.create_user("root", true, {}));
  const Output hook{Output::Kind::webhook, "http://127.0.0.1:9/hook"};
  Filter young = ok(registry.create_filter(bob, "young", "mag < 18", topic("bob-young")));
  CHECK(registry.topic_owners(bob) == std::map<std::string, std::string>{{"bob-young", "bob"}});
  CHECK(registry.topic_owners(alice).empty());
  // Alice's filter naming it, on its own or beside a topic of her own, is refused: nothing of it kept.
  const int64_t revision = registry.revision();
  Refusal taken = refused(registry.create_filter(alice, "steal", "mag < 20", {{Output::Kind::kafka, "alice-a"}, {Output::Kind::kafka, "bob-young"}}));
  CHECK(taken.status == 403);
  CHECK(taken.message == "the Kafka topic 'bob-young' belongs to another user: choose another topic");
  CHECK(taken.message.find("bob'") == std::string::npos);  // the owner's name is not told
  CHECK(registry.revision() == revision);
  CHECK(registry.filters(alice).empty());
  CHECK(registry.topic_owners(alice).empty());  // alice-a was not taken either (the transaction rolled back)
  // Nor may her filter be changed to it.
  Filter mine = ok(registry.create_filter(alice, "mine", "mag < 19", topic("alice-a")));
  CHECK(refused(registry.update_filter(alice, mine.id, std::nullopt, topic("bob-young"))).status == 403);
  CHECK(ok(registry.filter(alice, mine.id)).version == 1);
  // Bob's second filter on his topic is fine; the same topic in Avro is the same topic.
  Filter old = ok(registry.create_filter(bob, "old", "mag > 20", {{Output::Kind::kafka, "bob-young", "avro"}, hook}));
  // An admin's filters may name any topic (the topic stays its owner's), and an admin may change
  // a user's filter to any.
  Filter audit = ok(registry.create_filter(root, "audit", "mag < 10", topic("bob-young")));
  CHECK(registry.topic_owners(root).at("bob-young") == "bob");
  ok(registry.create_filter(root, "own", "mag < 11", topic("root-own")));
  CHECK(registry.topic_owners(root).at("root-own") == "root");
  ok(registry.update_filter(root, mine.id, std::nullopt, topic("alice-b")));
  CHECK(registry.topic_owners(alice) == std::map<std::string, std::string>{{"alice-b", "alice"}});  // alice-a freed
  // Bob's topic stays his while one of his filters names it, a paused one too.
  ok(registry.remove_filter(bob, young.id));
  CHECK(refused(registry.create_filter(alice, "steal", "mag < 20", topic("bob-young"))).status == 403);
  ok(registry.set_active(bob, old.id, false, "by its owner"));
  CHECK(refused(registry.create_filter(alice, "steal", "mag < 20", topic("bob-young"))).status == 403);
  ok(registry.set_active(bob, old.id, true, ""));
  // A new version that drops it hands it to the oldest other filter naming it, a non-admin's
  // first: an admin changes alice's filter to it (root's 'audit' is older), then bob drops it.
  ok(registry.update_filter(root, mine.id, std::nullopt, topic("bob-young")));
  CHECK(registry.topic_owners(root).at("bob-young") == "bob");
  ok(registry.update_filter(bob, old.id, std::nullopt, std::vector<Output>{hook}));
  CHECK(registry.topic_owners(bob).empty());
  CHECK(registry.topic_owners(alice).at("bob-young") == "alice");
  CHECK(refused(registry.update_filter(bob, old.id, std::nullopt, topic("bob-young"))).status == 403);
  // Removing a user hands their topics on the same way: root's filter still names it.
  ok(registry.remove_user("alice"));
  CHECK(registry.topic_owners(root).at("bob-young") == "root");
  CHECK(refused(registry.update_filter(bob, old.id, std::nullopt, topic("bob-young"))).status == 403);
  // Freed once no filter names it: the next to name it owns it.
  ok(registry.remove_filter(root, audit.id));
  CHECK(registry.topic_owners(root).count("bob-young") == 0);
  ok(registry.update_filter(bob, old.id, std::nullopt, topic("bob-young")));
  CHECK(registry.topic_owners(bob).at("bob-young") == "bob");
}

TEST_CASE("topics the workflow writes are refused to users' filters; ownership is kept across a restart") {
  TempStore store;
  int64_t bob_filter = 0;
  {
    FilterRegistry registry(store.path());
    User alice = ok(registry.create_user("alice", false, {}));
    User bob = ok(registry.create_user("bob", false, {}));
    ok(registry.create_user("root", true, {}));
    Filter early = ok(registry.create_filter(alice, "early", "mag < 18", topic("gw-coincidences")));
    bob_filter = ok(registry.create_filter(bob, "young", "mag < 18", topic("bob-young"))).id;
    registry.reserve_topics("workflow 'gw'", {"gw-coincidences", "gw-alerts"});
    Refusal own = refused(registry.create_filter(bob, "x", "mag < 18", topic("gw-alerts")));
    CHECK(own.status == 403);
    CHECK(own.message == "the Kafka topic 'gw-alerts' is used by the workflow itself (workflow 'gw'): a filter "
                         "cannot publish to it; choose another topic");
    // A filter that named it before it was reserved keeps running, but is refused a new version or a resume naming it.
    CHECK(refused(registry.update_filter(alice, early.id, "mag < 17", std::nullopt)).status == 403);
    ok(registry.set_active(alice, early.id, false, "by its owner"));
    CHECK(refused(registry.set_active(alice, early.id, true, "")).status == 403);
    ok(registry.update_filter(alice, early.id, std::nullopt, topic("alice-early")));
    ok(registry.set_active(alice, early.id, true, ""));
    // Another workflow writing gw-coincidences too, and reading the topics a pattern matches.
    registry.reserve_topics("workflow 'relay'", {"gw-coincidences", "^ztf-[0-9]+$", "relay-in"});
    Refusal matched = refused(registry.create_filter(bob, "x", "mag < 18", topic("ztf-20261206")));
    CHECK(matched.status == 403);
    CHECK(matched.message == "the Kafka topic 'ztf-20261206' matches a topic pattern the workflow itself reads "
                             "(^ztf-[0-9]+$, workflow 'relay'): a filter cannot publish to it; choose another topic");
    CHECK(refused(registry.create_filter(bob, "x", "mag < 18", topic("relay-in"))).status == 403);
    ok(registry.create_filter(bob, "ztf", "mag < 18", topic("ztf-public")));  // not matched
    // The next run of 'gw' reserves what it writes then: gw-alerts is released, gw-coincidences
    // stays reserved ('relay' writes it).
    registry.reserve_topics("workflow 'gw'", {"gw-coincidences"});
    registry.reserve_topics("workflow 'gw'", {});
    CHECK(registry.reserved_topics().count("gw-alerts") == 0);
    CHECK(registry.reserved_topics().at("gw-coincidences") == "workflow 'relay'");
    CHECK(refused(registry.create_filter(bob, "x", "mag < 18", topic("gw-coincidences"))).status == 403);
    ok(registry.create_filter(bob, "x", "mag < 18", topic("gw-alerts")));
  }
  // Opened again (a restart of the service): the owners and the reservation are kept.
  FilterRegistry again(store.path());
  User alice = again.users().at(0);
  REQUIRE(alice.name == "alice");
  CHECK(refused(again.create_filter(alice, "steal", "mag < 20", topic("bob-young"))).status == 403);
  CHECK(refused(again.create_filter(alice, "steal", "mag < 20", topic("gw-alerts"))).status == 403);
  CHECK(refused(again.create_filter(alice, "steal", "mag < 20", topic("gw-coincidences"))).status == 403);
  User root = again.users().at(2);
  REQUIRE(root.admin);
  CHECK(again.topic_owners(root) == std::map<std::string, std::string>{{"alice-early", "alice"},
                                                                       {"bob-young", "bob"},
                                                                       {"gw-alerts", "bob"},
                                                                       {"ztf-public", "bob"}});
  CHECK(bob_filter > 0);
}

TEST_CASE("a store of layout 3 (before topic owners) is migrated: the first user to name a topic owns it") {
  TempStore store;
  {
    FilterRegistry made(store.path());  // today's tables, then brought back to layout 3
    User alice = ok(made.create_user("alice", false, {}));
    User bob = ok(made.create_user("bob", false, {}));
    ok(made.create_filter(bob, "young", "mag < 18", topic("shared")));
    ok(made.create_filter(alice, "bright", "mag < 18", {{Output::Kind::kafka, "alice-x", "avro"}, {Output::Kind::kafka, "alice-bright"}}));
    Filter gone = ok(made.create_filter(alice, "gone", "mag < 18", topic("alice-gone")));
    ok(made.remove_filter(alice, gone.id));
    ok(made.create_filter(alice, "later", "mag < 19", topic("alice-later")));
  }
  {
    ebs::sqlite::Database old(store.path(), ebs::sqlite::Database::Mode::read_write);
    old.execute("DROP TABLE topic_owners; DROP TABLE reserved_topics; PRAGMA user_version = 3");
    // Two users' filters on one topic, as a store of layout 3 allowed: alice's 'bright' (in Avro) and
    // 'later', made after bob's.
    old.execute("UPDATE filter_versions SET outputs = '[{\"kind\":\"kafka\",\"target\":\"shared\"}]' "
                "WHERE filter_id = (SELECT id FROM filters WHERE name = 'later')");
    old.execute("UPDATE filter_versions SET outputs = '[{\"kind\":\"kafka\",\"target\":\"shared\",\"format\":\"avro\"},"
                "{\"kind\":\"kafka\",\"target\":\"alice-bright\"}]' "
                "WHERE filter_id = (SELECT id FROM filters WHERE name = 'bright')");
  }
  FilterRegistry registry(store.path());
  {
    ebs::sqlite::Database db(store.path(), ebs::sqlite::Database::Mode::read_only);
    CHECK(db.scalar("PRAGMA user_version") == kStoreVersion);
  }
  User alice = registry.users().at(0);
  User bob = registry.users().at(1);
  REQUIRE(bob.name == "bob");
  // Bob's filter named 'shared' first: his. Alice keeps hers (a removed filter's topic is free).
  CHECK(registry.topic_owners(bob) == std::map<std::string, std::string>{{"shared", "bob"}});
  CHECK(registry.topic_owners(alice) == std::map<std::string, std::string>{{"alice-bright", "alice"}});
  // Her filters naming it keep running; a new version naming it is refused, one without it is fine.
  CHECK(registry.active_filters().size() == 3);
  std::vector<Filter> hers = registry.filters(alice);
  REQUIRE(hers.size() == 2);
  CHECK(refused(registry.update_filter(alice, hers[0].id, "mag < 17", std::nullopt)).status == 403);
  ok(registry.update_filter(alice, hers[0].id, std::nullopt, topic("alice-bright")));
  ok(registry.create_filter(alice, "gone", "mag < 18", topic("alice-gone")));
  // Bob removes his filter: 'shared' goes to alice, whose 'later' still publishes to it; another
  // user cannot take it.
  ok(registry.remove_filter(bob, registry.filters(bob).at(0).id));
  CHECK(registry.topic_owners(alice).at("shared") == "alice");
  User carol = ok(registry.create_user("carol", false, {}));
  CHECK(refused(registry.create_filter(carol, "mine", "mag < 18", topic("shared"))).status == 403);
}

TEST_CASE("a layout-3 store whose topic_owners rows exist already opens: the rows there are kept") {
  TempStore store;
  {
    FilterRegistry made(store.path());
    User alice = ok(made.create_user("alice", false, {}));
    User bob = ok(made.create_user("bob", false, {}));
    ok(made.create_filter(alice, "a", "mag < 18", topic("t")));
    ok(made.create_filter(bob, "b", "mag < 18", topic("u")));
  }
  {
    ebs::sqlite::Database old(store.path(), ebs::sqlite::Database::Mode::read_write);
    old.execute("UPDATE topic_owners SET user_id = (SELECT id FROM users WHERE name = 'bob') WHERE topic = 't'");
    old.execute("PRAGMA user_version = 3");
  }
  FilterRegistry registry(store.path());
  User root = ok(registry.create_user("root", true, {}));
  CHECK(registry.topic_owners(root) == std::map<std::string, std::string>{{"t", "bob"}, {"u", "bob"}});
}
