// The coordinator's store seen from a node (docs/filters.md, "In a cluster run"): every request
// crosses a real CAF request to the coordinator's server and is answered on the real store, as a
// `filters` instance on a node asks it. Here the node and the coordinator share one actor system.
#include "actors/common/filter_registry/switch_store.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <caf/all.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "actors/common/sqlite/sqlite_db.h"
#include "engine/cluster/coordinator_requests.h"
#include "engine/graph/actor_type.h"
#include "engine/graph/workflow.h"
#include "engine/util/fault.h"
#include "test/support/old_filter_store.h"

using namespace ebs;
using namespace ebs::filter_registry;

namespace {

template <typename T>
T ok(Answer<T> answer) {
  if (auto* refusal = std::get_if<Refusal>(&answer)) FAIL("refused: " << refusal->status << " " << refusal->message);
  return std::get<T>(std::move(answer));
}

std::string describe(const Filter& f) {
  std::string out = std::to_string(f.id) + " " + f.owner + "/" + f.name + " v" + std::to_string(f.version) + " " +
                    std::string(to_string(f.kind)) + " " + f.expression;
  for (const Output& o : f.outputs) out += " " + std::string(to_string(o.kind)) + ":" + o.target + ":" + o.format;
  return out;
}

}  // namespace

TEST_CASE("a node's instance asks the coordinator's store: the same switch points (with their limits), effects and pauses") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("switch_store_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "filters.sqlite").string();
  FilterRegistry store(path);
  Limits limits;
  limits.max_alerts_per_second = 12.5;
  limits.max_sql_steps = 40000;
  User alice = ok(store.create_user("alice", false, limits));
  const int64_t bright = ok(store.create_filter(alice, "bright", "mag < 18.5",
                                                {{Output::Kind::kafka, "alice-bright", "avro-confluent"},
                                                 {Output::Kind::webhook, "http://127.0.0.1:1/hook"}}))
                             .id;
  const int64_t seen = ok(store.create_filter(alice, "seen", "SELECT 1 WHERE :mag < 19",
                                              {{Output::Kind::slack, "http://127.0.0.1:1/s"}}, Filter::Kind::sql))
                           .id;

  // The run's `filters` actor, as the coordinator built it: its registry relative to the workflow.
  ActorType type;
  type.name = "filters";
  type.config = {{"registry", ValueKind::string, false, "", ""}};
  Workflow workflow;
  workflow.file = (dir / "wf.yaml").string();
  ActorSpec spec;
  spec.id = "users";
  spec.type_name = "filters";
  spec.type = &type;
  spec.config_node = YAML::Load("{registry: filters.sqlite}");
  spec.file = workflow.file;
  workflow.actors.push_back(spec);

  cluster::CoordinatorRequests requests;
  serve_switch_stores(requests);
  caf::actor_system_config config;
  caf::actor_system system(config);
  caf::actor server = requests.spawn_server(system, workflow);
  // The system's destructor waits for the server: stop it, and let go of the line to it, however
  // the test leaves, a failed REQUIRE (an exception) included, so that a failure fails instead of
  // hanging.
  struct StopServer {
    caf::actor& server;
    cluster::CoordinatorRequests& requests;
    ~StopServer() {
      if (requests.attached()) requests.detach();
      caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    }
  } stop_server{server, requests};
  requests.attach(system, server, "node2", 1);
  {
    std::unique_ptr<SwitchStore> remote = coordinator_switch_store(requests, "users");
    CHECK(remote->describe() == "the coordinator's " + path);

    // The first claim makes the run's first switch point, with every active filter as stored.
    std::vector<SwitchPoint> points = remote->claim(0, 3, 3, -1).points;
    REQUIRE(points.size() == 1);
    CHECK(points[0].sequence == 0);
    std::vector<Filter> active = store.active_filters();
    REQUIRE(points[0].filters.size() == active.size());
    for (size_t i = 0; i < active.size(); ++i) CHECK(describe(points[0].filters[i]) == describe(active[i]));
    // With the owners' limits recorded with the point (a node applies those, not the store's of now).
    REQUIRE(points[0].limits.count("alice") == 1);
    CHECK(points[0].limits.at("alice").max_alerts_per_second == 12.5);
    CHECK(points[0].limits.at("alice").max_sql_steps == 40000);

    // A change: the next claim (by the other instance) makes a point after the highest claimed, 3.
    ok(store.update_filter(alice, bright, std::string("mag < 18"), std::nullopt));
    LimitsChange lowered;
    lowered.max_sql_steps = 5000;
    ok(store.set_limits("alice", lowered));
    Claim second = remote->claim(1, 2, 2, points[0].revision);
    CHECK(second.claimed_through == 2);
    CHECK(second.applied_revision == -1);
    points = second.points;
    REQUIRE(points.size() == 1);
    CHECK(points[0].sequence == 4);
    CHECK(points[0].filters[0].version == 2);
    REQUIRE(points[0].limits.count("alice") == 1);
    CHECK(points[0].limits.at("alice").max_sql_steps == 5000);
    CHECK(points[0].limits.at("alice").max_alerts_per_second == 12.5);

    // A point's effects in one request.
    remote->record_effects(1, points[0].revision, {{bright, 2, "users#1@node2", 17, 4}, {seen, 0, "users#1@node2", 17, 4}});
    auto effects = store.effects(bright);
    REQUIRE(!effects.empty());
    CHECK(effects.back().instance == "users#1@node2");
    CHECK(effects.back().source_sequence == 4);
    CHECK(effects.back().sequence == 17);
    REQUIRE(store.effects(seen).size() == 1);
    CHECK(store.effects(seen)[0].version == 0);
    // Under the attempt the request was of (the node's: the first), as the node says it.
    CHECK(remote->attempt() == kFirstAttempt);
    CHECK(effects.back().attempt == kFirstAttempt);
    // Noted as applied by instance 1: a replacement of it (a failover's, on another node) asking from
    // the start learns where its predecessor's claim and log stood.
    const int64_t logged = points[0].revision;
    Claim resumed = remote->claim(1, 1, 1, -1);
    CHECK(resumed.points.size() == 2);
    CHECK(resumed.claimed_through == 2);
    CHECK(resumed.applied_revision == logged);
    CHECK(resumed.skipped == 0);
    CHECK(resumed.next_point == -1);

    // The answer is bounded across the request too: 20 more points (at 4, the highest claimed + 1,
    // then 5, 6, ..., 23: 22 in all), then a replacement at batch 10 gets the 16 oldest it has not
    // (9 of them reached at once), the first left out at 18; one at batch 30 the 16 newest, the 6
    // older ones it reached at once left out.
    for (int64_t k = 0; k < 20; ++k) {
      ok(store.update_filter(alice, bright, "mag < " + std::to_string(10 + k), std::nullopt));
      remote->claim(0, 4 + k, 4 + k, -1);
    }
    Claim bounded = remote->claim(1, 10, 10, -1);
    CHECK(bounded.points.size() == kMaxClaimPoints);
    CHECK(bounded.points.front().sequence == 0);
    CHECK(bounded.points.back().sequence == 17);
    CHECK(bounded.skipped == 0);
    CHECK(bounded.next_point == 18);
    bounded = remote->claim(1, 30, 30, -1);
    CHECK(bounded.points.size() == kMaxClaimPoints);
    CHECK(bounded.skipped == 6);
    CHECK(bounded.points.front().sequence == 8);
    CHECK(bounded.points.back().sequence == 23);
    CHECK(bounded.next_point == -1);

    // The bytes of a bounded answer, as it crosses: 200 more active filters of alice's (an expression
    // and a webhook each, as users write them), 16 points made with them, then the raw claim of an
    // index asking from the start: 16 points x 202 filters (with bright and seen).
    LimitsChange many;
    many.max_filters = 1000;
    alice = ok(store.set_limits("alice", many));
    for (int k = 0; k < 200; ++k)
      ok(store.create_filter(alice, "f" + std::to_string(k), "mag < " + std::to_string(15 + k % 7) + " and ndet > " +
                                                                   std::to_string(k % 5),
                             {{Output::Kind::webhook, "https://hooks.example.org/alice/" + std::to_string(k)}}));
    for (int64_t k = 0; k < 16; ++k) {
      ok(store.update_filter(alice, bright, "mag < " + std::to_string(30 + k), std::nullopt));
      remote->claim(0, 40 + k, 40 + k, -1);
    }
    const std::string raw = requests.ask(
        "filters", R"({"op": "claim", "actor": "users", "instance": 5, "batch": 60, "source_sequence": 60, "known_revision": -1})");
    const nlohmann::json parsed = nlohmann::json::parse(raw).at("answer");
    REQUIRE(parsed.at("points").size() == kMaxClaimPoints);
    CHECK(parsed.at("points").back().at("filters").size() == 202);
    MESSAGE("a claim's answer of 16 points x 202 filters: " << raw.size() << " bytes ("
                                                            << raw.size() / (16 * 202) << " per filter and point)");
    CHECK(raw.size() < 16 * 202 * 400);

    // Two failed filters in one request; a reason cut inside a UTF-8 character (a webhook's
    // answer quoted to 300 bytes) still crosses.
    remote->pause_for_failures({{bright, "webhook: no answer"}, {seen, "webhook: HTTP 500: caf\xc3"}});
    Filter paused = ok(store.filter(alice, bright));
    CHECK(!paused.active);
    CHECK(paused.paused_reason == "webhook: no answer");
    paused = ok(store.filter(alice, seen));
    CHECK(!paused.active);
    CHECK(paused.paused_reason.rfind("webhook: HTTP 500: caf", 0) == 0);

    // The outputs' counts, rate-limited ones too. Five fields (a build before protocol revision 13)
    // are refused, nothing added: such a node never gets past the handshake.
    const Output bright_hook{Output::Kind::webhook, "http://127.0.0.1:1/hook"};
    remote->add_output_counts({{bright, bright_hook, {1, 2, 3, 4}}});
    const std::string hook_json = R"({"kind": "webhook", "target": "http://127.0.0.1:1/hook", "format": "json"})";
    CHECK_THROWS_AS(requests.ask("filters", R"({"op": "counts", "actor": "users", "outputs": [[)" + std::to_string(bright) +
                                                ", " + hook_json + ", 10, 0, 0]]}"),
                    Fault);
    requests.ask("filters", R"({"op": "counts", "actor": "users", "outputs": [[)" + std::to_string(bright) + ", " +
                                hook_json + ", 10, 0, 0, 1]]}");
    CHECK(ok(store.filter(alice, bright)).output_counts == std::vector<OutputCounts>{{}, {11, 2, 3, 5}});  // its second output

    // An actor the run does not have is refused with its name, as a fault on the node.
    std::unique_ptr<SwitchStore> unknown;
    CHECK_THROWS_WITH_AS(unknown = coordinator_switch_store(requests, "nobody"),
                         doctest::Contains("no `filters` actor 'nobody'"), Fault);
  }
  requests.detach();
  CHECK(!requests.attached());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a store whose output counts had no rate_limited column, opened by two runs in turn: migrated once, counts kept") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("switch_store_migrated_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "filters.sqlite").string();
  const Output topic{Output::Kind::kafka, "alice-bright"};
  int64_t id = 0;
  {
    FilterRegistry registry(path);
    const User alice = ok(registry.create_user("alice", false, {}));
    id = ok(registry.create_filter(alice, "bright", "mag < 18", {topic})).id;
  }
  ebs::test::make_counts_table_of_3b34ce4(path, id, "alice-bright");  // the table as main at 3b34ce4 made it, with a row
  // Each run opens the store (the first adds the column, the second finds it) and adds its counts.
  for (const std::string run : {"run 1", "run 2"}) {
    std::unique_ptr<SwitchStore> opened;
    REQUIRE_NOTHROW(opened = local_switch_store(path, run));
    opened->add_output_counts({{id, topic, {1, 0, 0, 3}}});
  }
  FilterRegistry registry(path);
  CHECK(ok(registry.filter(registry.users().at(0), id)).output_counts == std::vector<OutputCounts>{{10, 1, 0, 6}});
  {
    ebs::sqlite::Database db(path, ebs::sqlite::Database::Mode::read_only);
    CHECK(db.scalar("SELECT count(*) FROM pragma_table_info('output_counts') WHERE name = 'rate_limited'") == 1);
  }
  std::filesystem::remove_all(dir);
}
