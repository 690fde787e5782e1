#include "actors/common/filter_registry/filter_registry.h"

#include <doctest/doctest.h>

#include <filesystem>

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
  registry.pause_for_failure(f.id, "webhook http://x timed out");
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
  registry.record_effect(f.id, 1, "users#0", 0, 0);
  registry.record_effect(f.id, 2, "users#0", 512, 7);
  auto effects = registry.effects(f.id);
  REQUIRE(effects.size() == 2);
  CHECK(effects[1].version == 2);
  CHECK(effects[1].sequence == 512);
  CHECK(effects[1].source_sequence == 7);
}

TEST_CASE("switch points: one per revision, after every batch any instance claimed, with the versions of then") {
  TempStore store;
  FilterRegistry one(store.path()), two(store.path());  // two instances, each its own connection
  User alice = ok(one.create_user("alice", false, {}));
  Filter f = ok(one.create_filter(alice, "bright", "mag < 18", kTopic));
  // The first claim of a run makes its first switch point, from sequence 0.
  auto first = one.claim("run", 0, 1, -1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].sequence == 0);
  REQUIRE(first[0].filters.size() == 1);
  CHECK(first[0].filters[0].expression == "mag < 18");
  CHECK(two.claim("run", 1, 2, -1).size() == 1);  // the same point, not a new one
  CHECK(one.claim("run", 0, 3, first[0].revision).empty());
  // A new version while instance 1 is at 5 and instance 0 at 3: it starts at 6, for both.
  CHECK(two.claim("run", 1, 5, first[0].revision).empty());
  ok(one.update_filter(alice, f.id, std::string("mag < 17"), std::nullopt));
  auto by_zero = one.claim("run", 0, 4, first[0].revision);
  REQUIRE(by_zero.size() == 1);
  CHECK(by_zero[0].sequence == 6);
  REQUIRE(by_zero[0].filters.size() == 1);
  CHECK(by_zero[0].filters[0].version == 2);
  CHECK(by_zero[0].filters[0].expression == "mag < 17");
  auto by_one = two.claim("run", 1, 6, first[0].revision);
  REQUIRE(by_one.size() == 1);
  CHECK(by_one[0].sequence == 6);
  CHECK(by_one[0].revision == by_zero[0].revision);
  // Another run's instances agree among themselves, from their own sequence 0.
  auto other = one.claim("other run", 0, 1, -1);
  REQUIRE(other.size() == 1);
  CHECK(other[0].sequence == 0);
  CHECK(other[0].filters[0].version == 2);
}
