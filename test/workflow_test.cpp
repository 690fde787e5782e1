#include "engine/graph/workflow.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>

#include "actors/sinks/dashboard/dashboard_sink.h"
#include "app/builtin_modules.h"
#include "engine/graph/cutout_use.h"
#include "engine/graph/field_check.h"
#include "engine/runtime/actor_logic.h"
#include "engine/util/edit_distance.h"
#include "test/support/test_data.h"

using namespace ebs;

namespace {

ActorRegistry test_registry() {
  ActorRegistry r;
  register_builtin_actors(r);
  ActorType events;
  events.name = "events";
  events.outputs = {{"events", PortType::sky_event, ""}};
  events.input_time_scale = "utc";
  events.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
  r.add(events);
  return r;
}

// The workflow built from `yaml` (none when there is a problem), and its problems as printed.
struct Built {
  std::optional<Workflow> workflow;
  std::vector<std::string> problems;
};

Built build(const std::string& yaml) {
  std::vector<Problem> problems;
  ActorRegistry registry = test_registry();
  Built built;
  if (auto doc = parse_workflow_text(yaml, "w.yaml", problems)) built.workflow = build_workflow(*doc, registry, problems);
  for (const Problem& p : problems) built.problems.push_back(format_problem(p));
  return built;
}

std::vector<std::string> problems_of(const std::string& yaml) { return build(yaml).problems; }

}  // namespace

TEST_CASE("variables expand from the environment, with defaults and $$") {
  std::vector<Problem> problems;
  ::setenv("EBS_TEST_VAR", "from-env", 1);
  ::unsetenv("EBS_TEST_UNSET");
  CHECK(expand_variables("a: ${EBS_TEST_VAR}", "f", problems) == "a: from-env");
  CHECK(expand_variables("a: ${EBS_TEST_UNSET:-dflt}", "f", problems) == "a: dflt");
  CHECK(expand_variables("a: ${EBS_TEST_VAR:-dflt}", "f", problems) == "a: from-env");
  CHECK(expand_variables("price: $$5", "f", problems) == "price: $5");
  CHECK(problems.empty());
  expand_variables("x: 1\ny: ${EBS_TEST_UNSET}", "f", problems);
  REQUIRE(problems.size() == 1);
  CHECK(format_problem(problems[0]) ==
        "f:2:4: environment variable EBS_TEST_UNSET is not set (give a default: ${EBS_TEST_UNSET:-value})");
  problems.clear();
  expand_variables("y: ${OOPS", "f", problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].place == "f:1:4");
}

TEST_CASE("a YAML syntax error names its line and column") {
  auto p = problems_of("name: x\nactors: [\n  {id: a\n");
  REQUIRE(p.size() == 1);
  CHECK(p[0].starts_with("w.yaml:"));
}

TEST_CASE("a duplicate key is an error naming both places; a name must be UTF-8") {
  auto p = problems_of("name: x\nbatch_size: 10\nactors:\n  - id: s\n    type: simulator\n    id: t\nbatch_size: 20\n");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "w.yaml:6:5: duplicate key 'id' (first at w.yaml:4:5): YAML would keep only the first; remove one");
  CHECK(p[1] == "w.yaml:7:1: duplicate key 'batch_size' (first at w.yaml:2:1): YAML would keep only the first; remove one");
  auto bad_name = problems_of("name: \"caf\xe9\"\nactors:\n  - id: s\n    type: simulator\n");
  REQUIRE(bad_name.size() == 1);
  CHECK(bad_name[0] == "w.yaml:1:7: the name is not valid UTF-8 (byte 4)");
  // A key that is a map or a list (found by workflow_fuzz: yaml-cpp threw a conversion error).
  auto map_key = problems_of("name: x\n{a: 1}: 2\nactors:\n  - {id: s, type: simulator, config: {[1]: 2}}\n");
  REQUIRE(map_key.size() == 2);
  CHECK(map_key[0] == "w.yaml:2:1: a key must be a name, not a map or a list");
  CHECK(map_key[1] == "w.yaml:4:39: a key must be a name, not a map or a list");
}

TEST_CASE("a valid workflow resolves in topological order with shorthand inputs") {
  std::vector<Problem> problems;
  auto doc = parse_workflow_text(R"(name: ok
actors:
  - {id: sink, type: count, inputs: [f.out]}
  - {id: f, type: filter, config: {where: "mag < 20"}, inputs: {in: sim.alerts}, parallelism: 4}
  - {id: sim, type: simulator}
)",
                                 "w.yaml", problems);
  ActorRegistry registry = test_registry();
  auto wf = build_workflow(*doc, registry, problems);
  REQUIRE(wf);
  CHECK(problems.empty());
  REQUIRE(wf->actors.size() == 3);
  CHECK(wf->actors[0].id == "sim");
  CHECK(wf->actors[1].id == "f");
  CHECK(wf->actors[1].parallelism == 4);
  CHECK(wf->actors[2].id == "sink");
  CHECK(wf->actors[2].inputs.at("in")[0].actor == "f");
  // Declared defaults apply when a key is absent.
  CHECK(wf->find("sim")->config().integer("count") == 10000);
}

TEST_CASE("each kind of problem is reported at its place, all at once") {
  auto p = problems_of(R"(name: bad
actors:
  - {id: a, type: simulater}
  - {id: b, type: simulator, config: {count: 1.5, rate: fast, sed: 1}}
  - {id: c, type: filter, inputs: [b.alerts]}
  - {id: d, type: count, inputs: [ghost.out, b.nope]}
  - {id: d, type: count, inputs: [b.alerts]}
  - {id: e, type: filter, config: {where: "mag <"}, inputs: [ev.events]}
  - {id: ev, type: events}
  - {id: x.y, type: count, inputs: [b.alerts], colour: red}
  - {id: z, type: count, parallelism: 0, inputs: [b.alerts]}
)");
  // Pass one (each actor alone: type, keys, values, ids) in file order, then pass two (checks, wiring).
  std::vector<std::string> expected{
      "w.yaml:3:19: unknown actor type 'simulater' (did you mean 'simulator'?)",
      "w.yaml:4:46: config key 'count' must be an integer, not '1.5'",
      "w.yaml:4:57: config key 'rate' must be a number, not 'fast'",
      "w.yaml:4:63: unknown config key 'sed' for type 'simulator' (did you mean 'seed'?)",
      "w.yaml:5:5: missing config key 'where' for type 'filter'",
      "w.yaml:7:10: duplicate actor id 'd' (first defined at w.yaml:6:5)",
      "w.yaml:10:48: unknown actor key 'colour'",
      "w.yaml:10:10: actor id 'x.y' must not contain '.'",
      "w.yaml:11:39: 'parallelism' must be a whole number from 1 to 1024",
      "w.yaml:6:35: input refers to unknown actor 'ghost'",
      "w.yaml:6:46: actor 'b' (simulator) has no output port 'nope'",
      "w.yaml:8:49: in expression: unexpected end of expression",
      "w.yaml:8:62: port type mismatch: ev.events produces SkyEvent but e.in takes Alert",
  };
  CHECK(p.size() == expected.size());
  for (size_t i = 0; i < std::min(p.size(), expected.size()); ++i) {
    INFO("problem " << i << ": " << p[i]);
    CHECK(p[i].starts_with(expected[i]));
  }
}

TEST_CASE("a source given inputs and an unwired input port are problems") {
  auto p = problems_of(R"(name: w
actors:
  - {id: s, type: simulator, inputs: [s.alerts]}
  - {id: n, type: count}
)");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "w.yaml:3:38: type 'simulator' is a source: it takes no inputs");
  CHECK(p[1] == "w.yaml:4:5: input port 'in' of actor 'n' is not wired (inputs: {in: actor.port})");
}

TEST_CASE("cycles are found and reported once") {
  auto p = problems_of(R"(name: w
actors:
  - {id: a, type: passthrough, inputs: [c.out]}
  - {id: b, type: passthrough, inputs: [a.out]}
  - {id: c, type: passthrough, inputs: [b.out]}
)");
  REQUIRE(p.size() == 1);
  CHECK(p[0].find("cycle: ") != std::string::npos);
}

TEST_CASE("--set overrides split at the first dot only") {
  std::vector<Problem> problems;
  auto doc = parse_workflow_text("name: w\nactors:\n  - {id: sim, type: simulator}\n", "w.yaml", problems);
  apply_overrides(*doc, {"sim.count=12", "sim.bootstrap.servers=host:9092", "nobody.x=1", "broken"}, problems);
  CHECK(doc->root["actors"][0]["config"]["count"].as<int>() == 12);
  CHECK(doc->root["actors"][0]["config"]["bootstrap.servers"].as<std::string>() == "host:9092");
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].message == "no actor with id 'nobody'");
  CHECK(problems[1].message == "expected ACTOR.KEY=VALUE");
}

TEST_CASE("rate and burst pace any source; --set reaches them; they are refused elsewhere") {
  std::vector<Problem> problems;
  ActorRegistry registry = test_registry();
  auto doc = parse_workflow_text(R"(name: w
actors:
  - {id: sim, type: simulator, rate: 2000, config: {count: 10}}
  - {id: n, type: count, inputs: [sim.alerts]})", "w.yaml", problems);
  apply_overrides(*doc, {"sim.burst.every_s=30", "sim.burst.alerts=10000", "sim.rate=500", "sim.parallelism=2"}, problems);
  auto wf = build_workflow(*doc, registry, problems);
  for (const Problem& p : problems) MESSAGE(format_problem(p));
  REQUIRE(wf);
  const ActorSpec* sim = wf->find("sim");
  CHECK(sim->rate == 500);
  CHECK(sim->burst_every_s == 30);
  CHECK(sim->burst_records == 10000);
  CHECK(sim->parallelism == 2);
  CHECK_FALSE(sim->config_node["rate"]);  // the engine's, not the simulator's own config.rate
  CHECK(sim->config_node["count"].as<int>() == 10);
  auto wrong = problems_of(R"(name: w
actors:
  - {id: sim, type: simulator, rate: -1, burst: {every_s: 0, alerts: 10, often: 1}}
  - {id: n, type: count, rate: 10, inputs: [sim.alerts]})");
  REQUIRE(wrong.size() == 4);
  CHECK(wrong[0].find("'rate' must be a number of records per second >= 0") != std::string::npos);
  CHECK(wrong[1].find("unknown key 'often' in burst") != std::string::npos);
  CHECK(wrong[2].find("burst needs 'every_s', seconds > 0") != std::string::npos);
  CHECK(wrong[3].find("'rate' and 'burst' pace a source; 'n' (type 'count') has inputs") != std::string::npos);
}

TEST_CASE("a sink's flush_interval_ms is refused below 1 ms at its place") {
  auto p = problems_of(R"(name: w
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: lines, type: jsonl, config: {path: a.jsonl, flush_interval_ms: 0}, inputs: [sim.alerts]}
  - {id: store, type: repository, config: {path: r.db, flush_interval_ms: -5}, inputs: [sim.alerts]}
  - {id: late, type: jsonl, config: {path: b.jsonl, flush_interval_ms: soon}, inputs: [sim.alerts]})");
  std::vector<std::string> expected{
      "w.yaml:6:72: config key 'flush_interval_ms' must be an integer, not 'soon'",
      "w.yaml:4:73: must be at least 1",
      "w.yaml:5:75: must be at least 1",
  };
  CHECK(p.size() == expected.size());
  for (size_t i = 0; i < std::min(p.size(), expected.size()); ++i) {
    INFO("problem " << i << ": " << p[i]);
    CHECK(p[i].starts_with(expected[i]));
  }
  CHECK(problems_of(R"(name: w
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: lines, type: jsonl, config: {path: a.jsonl, flush_interval_ms: 1}, inputs: [sim.alerts]})").empty());
}

TEST_CASE("the credit window and the held-tokens bound are set in defaults; a bad value is refused at its place") {
  const std::string actors = R"(
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: lines, type: jsonl, config: {path: a.jsonl}, inputs: [sim.alerts]})";
  Built plain = build("name: w" + actors);
  REQUIRE(plain.workflow);
  CHECK(plain.workflow->credit_window_batches == 16);
  CHECK(plain.workflow->credit_window_bytes == int64_t{8} << 20);
  CHECK(plain.workflow->held_tokens_bytes == 0);  // one byte window
  Built set = build("name: w\ndefaults: {credit_window_batches: 4, credit_window_bytes: 1048576, held_tokens_bytes: 65536}" +
                    actors);
  REQUIRE(set.workflow);
  CHECK(set.workflow->credit_window_batches == 4);
  CHECK(set.workflow->credit_window_bytes == 1048576);
  CHECK(set.workflow->held_tokens_bytes == 65536);
  CHECK(build("name: w\ndefaults: {credit_window_batches: 65536, credit_window_bytes: 1099511627776}" + actors)
            .problems.empty());
  // Past 65,536 batches the bookkeeping the byte window does not count (~350 B each) grows past ~22 MiB an edge.
  CHECK(problems_of("name: w\ndefaults: {credit_window_batches: 65537}" + actors) ==
        std::vector<std::string>{"w.yaml:2:35: 'credit_window_batches' must be a whole number of batches from 1 to "
                                 "65536 (default 16), not 65537"});
  auto p = problems_of(R"(name: w
defaults:
  credit_window_batches: 0
  credit_window_bytes: 8 XB
  held_tokens_bytes: 1099511627777
  batch_size: 10)" + actors);
  std::vector<std::string> expected{
      "w.yaml:3:26: 'credit_window_batches' must be a whole number of batches from 1 to 65536 (default 16), not 0",
      "w.yaml:4:24: 'credit_window_bytes': '8 XB' is not a size in bytes ('XB' is not a unit): write 4096, 64 KiB, "
      "8 MiB or 1 GiB (KiB, MiB, GiB, TiB: powers of 1024; kB, MB, GB, TB: of 1000)",
      "w.yaml:5:22: 'held_tokens_bytes' must be a number of bytes from 1 to 1099511627776 (1 TiB), default one "
      "credit byte window, not 1099511627777",
  };
  CHECK(p == expected);
  auto more = problems_of("name: w\ndefaults: {credit_window_batches: -2, credit_window_bytes: [1], held_tokens_bytes: 1.5}" +
                          actors);
  REQUIRE(more.size() == 3);
  CHECK(more[0].find("w.yaml:2:") == 0);
  CHECK(more[0].ends_with("(default 16), not -2"));
  CHECK(more[1].find("default 8388608 (8 MiB): write 4096, 64 KiB") != std::string::npos);  // a list is no size
  CHECK(more[2].ends_with("'1.5' is not a size in bytes (not a whole number of bytes): write 4096, 64 KiB, 8 MiB or "
                          "1 GiB (KiB, MiB, GiB, TiB: powers of 1024; kB, MB, GB, TB: of 1000)"));
  // The `run` flags give the same reasons (engine/cli/workflow_commands.cpp).
  CHECK(credit_setting_problem("credit_window_bytes", std::string("-1")) ==
        "'credit_window_bytes': '-1' is not a size in bytes (no sign is taken): write 4096, 64 KiB, 8 MiB or 1 GiB "
        "(KiB, MiB, GiB, TiB: powers of 1024; kB, MB, GB, TB: of 1000)");
  CHECK(credit_setting_problem("credit_window_bytes", std::string("0 KiB")) ==
        "'credit_window_bytes' must be a number of bytes from 1 to 1099511627776 (1 TiB), default 8388608 (8 MiB), "
        "not 0 ('0 KiB')");
  CHECK(credit_setting_problem("credit_window_batches", std::string("12")).empty());
  CHECK(credit_setting_problem("held_tokens_bytes", std::string("")).ends_with("kB, MB, GB, TB: of 1000)"));
  CHECK(credit_setting_problem("held_tokens_bytes", std::string("99999999999999999999")).find("more than 19 digits") !=
        std::string::npos);
  CHECK(credit_setting_problem("held_tokens_bytes", std::string("2 TiB")) ==
        "'held_tokens_bytes' must be a number of bytes from 1 to 1099511627776 (1 TiB), default one credit byte "
        "window, not 2199023255552 ('2 TiB')");
}

TEST_CASE("byte settings in defaults take units: 8 MiB, 64KiB, 8 MB (powers of 1000), 1.5 MiB") {
  const std::string actors = R"(
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: lines, type: jsonl, config: {path: a.jsonl}, inputs: [sim.alerts]})";
  Built units = build(R"(name: w
defaults:
  credit_window_bytes: 8 MiB
  held_tokens_bytes: 64KiB
  dashboard_shipment_bytes: 1.5 MiB
  dashboard_final_shipment_bytes: 8 MB)" + actors);
  REQUIRE(units.problems.empty());
  CHECK(units.workflow->credit_window_bytes == 8388608);
  CHECK(units.workflow->held_tokens_bytes == 65536);
  CHECK(units.workflow->dashboard_shipment_bytes == 1572864);
  CHECK(units.workflow->dashboard_final_shipment_bytes == 8000000);
  Built plain = build("name: w" + actors);
  CHECK(plain.workflow->dashboard_shipment_bytes == 2097152);
  CHECK(plain.workflow->dashboard_final_shipment_bytes == 8388608);  // four shipments
  CHECK_FALSE(plain.workflow->dashboard_final_shipment_given);
  // The final budget follows a shipment's when not given.
  Built shipment_only = build("name: w\ndefaults: {dashboard_shipment_bytes: 4 MiB}" + actors);
  CHECK(shipment_only.workflow->dashboard_final_shipment_bytes == int64_t{16} << 20);
  CHECK_FALSE(shipment_only.workflow->dashboard_final_shipment_given);
  // Given as four shipments, it is still given (a run's --dashboard-shipment-bytes does not move it).
  Built four = build("name: w\ndefaults: {dashboard_final_shipment_bytes: 8 MiB}" + actors);
  CHECK(four.workflow->dashboard_final_shipment_bytes == int64_t{8} << 20);
  CHECK(four.workflow->dashboard_final_shipment_given);
}

TEST_CASE("the dashboard shipment budgets are refused out of range, or a final one below a shipment's, at their place") {
  const std::string actors = R"(
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: lines, type: jsonl, config: {path: a.jsonl}, inputs: [sim.alerts]})";
  CHECK(problems_of(R"(name: w
defaults:
  dashboard_shipment_bytes: 1 KiB
  dashboard_final_shipment_bytes: 300 MiB)" + actors) ==
        std::vector<std::string>{
            "w.yaml:3:29: 'dashboard_shipment_bytes' must be a number of bytes from 65536 (64 KiB) to 67108864 "
            "(64 MiB), default 2097152 (2 MiB), not 1024 ('1 KiB')",
            "w.yaml:4:35: 'dashboard_final_shipment_bytes' must be a number of bytes from 65536 (64 KiB) to "
            "268435456 (256 MiB), default 4 times dashboard_shipment_bytes, not 314572800 ('300 MiB')"});
  // At most 64 MiB + 2 x 256 MiB in flight from a node (docs/dashboard.md "The budgets").
  CHECK(problems_of("name: w\ndefaults: {dashboard_shipment_bytes: 128 MiB}" + actors).at(0).starts_with(
      "w.yaml:2:38: 'dashboard_shipment_bytes' must be a number of bytes from 65536 (64 KiB) to 67108864 (64 MiB)"));
  Built largest = build("name: w\ndefaults: {dashboard_shipment_bytes: 64 MiB}" + actors);
  REQUIRE(largest.problems.empty());
  CHECK(largest.workflow->dashboard_final_shipment_bytes == int64_t{256} << 20);
  // A refused shipment budget is not stood in for by the default to judge the final one: one
  // problem, not a second about the final budget being below 2 MiB.
  CHECK(problems_of("name: w\ndefaults: {dashboard_shipment_bytes: 1 KiB, dashboard_final_shipment_bytes: 1 MiB}" +
                    actors) ==
        std::vector<std::string>{"w.yaml:2:38: 'dashboard_shipment_bytes' must be a number of bytes from 65536 (64 "
                                 "KiB) to 67108864 (64 MiB), default 2097152 (2 MiB), not 1024 ('1 KiB')"});
  CHECK(problems_of(R"(name: w
defaults: {dashboard_shipment_bytes: 8 MiB, dashboard_final_shipment_bytes: 4 MiB})" + actors) ==
        std::vector<std::string>{"w.yaml:2:77: 'dashboard_final_shipment_bytes' (4194304 (4 MiB)) must not be below "
                                 "'dashboard_shipment_bytes' (8388608 (8 MiB))"});
  CHECK(problems_of("name: w\ndefaults: {dashboard_shipment_bytes: 2 MiBs}" + actors).at(0).starts_with(
      "w.yaml:2:38: 'dashboard_shipment_bytes': '2 MiBs' is not a size in bytes ('MiBs' is not a unit)"));
}

TEST_CASE("the registry refuses duplicates and suggests near names") {
  ActorRegistry r = test_registry();
  ActorType again;
  again.name = "filter";
  again.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
  CHECK_THROWS_AS(r.add(again), Fault);
  CHECK(r.nearest("fliter").front() == "filter");
  CHECK(r.nearest("json").front() == "jsonl");
  CHECK(r.nearest("zzzzzzzz").empty());
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("the field check covers every type that takes an expression, a plugin's as much as filter's") {
  // As a plugin would declare it: an expression-valued key, no field list of its own.
  ActorRegistry registry = test_registry();
  ActorType tagger;
  tagger.name = "plugin-tagger";
  tagger.inputs = {{"in", PortType::alert, ""}};
  tagger.outputs = {{"out", PortType::alert, ""}};
  tagger.config = {{"when", ValueKind::expression, true, "", "which alerts to tag"}};
  tagger.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
  registry.add(tagger);
  auto check = [&](const std::string& where) {
    std::vector<Problem> problems, warnings;
    auto doc = parse_workflow_text("name: w\nactors:\n  - {id: sim, type: simulator}\n"
                                   "  - id: tag\n    type: plugin-tagger\n    config: {when: \"" + where + "\"}\n"
                                   "    inputs: [sim.alerts]\n",
                                   "w.yaml", problems);
    REQUIRE(doc);
    auto workflow = build_workflow(*doc, registry, problems);
    REQUIRE(problems.empty());
    check_field_names(*workflow, problems, warnings);
    std::vector<std::string> out;
    for (const Problem& p : problems) out.push_back(format_problem(p));
    return out;
  };
  CHECK(check("candidate.magpsf < 19").empty());
  auto typo = check("candidate.magpfs < 19");
  REQUIRE(typo.size() == 1);
  CHECK(typo[0].starts_with("w.yaml:6:20: no record reaching 'tag' has the field 'candidate.magpfs' (did you mean "
                            "'candidate.magpsf'"));
}

TEST_CASE("inputs say how records reach a parallel actor's instances; stateful inputs default to their key") {
  Built b = build(R"(name: keyed
actors:
  - {id: sim, type: simulator}
  - {id: gcn, type: events}
  - id: f
    type: filter
    config: {where: "mag < 20"}
    parallelism: 2
    inputs: {in: {from: sim.alerts, partition: object_id}}
  - id: match
    type: coincidence
    parallelism: 4
    inputs: {alerts: f.out, events: gcn.events}
  - {id: sink, type: count, inputs: [match.coincidences, {from: f.out, partition: broadcast}]}
)");
  REQUIRE(b.workflow);
  CHECK(b.problems.empty());
  CHECK(b.workflow->find("f")->inputs.at("in")[0].partition == "object_id");
  CHECK(b.workflow->find("match")->inputs.at("alerts")[0].partition == "object_id");  // its key, by default
  CHECK(b.workflow->find("match")->inputs.at("events")[0].partition == "broadcast");
  CHECK(b.workflow->find("sink")->inputs.at("in")[0].partition == "any");
  CHECK(b.workflow->find("sink")->inputs.at("in")[1].partition == "broadcast");
}

TEST_CASE("a parallel stateful actor with an input not partitioned by its key is refused at the input") {
  auto p = problems_of(R"(name: unkeyed
actors:
  - {id: sim, type: simulator}
  - {id: gcn, type: events}
  - id: match
    type: coincidence
    parallelism: 4
    inputs:
      alerts: {from: sim.alerts, partition: any}
      events: {from: gcn.events, partition: event_id}
)");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "w.yaml:9:45: actor 'match' (coincidence) keeps state across its 4 instances: its input 'alerts' "
                "must be partitioned by object_id, not any (write {from: sim.alerts, partition: object_id} or leave "
                "partition out)");
  CHECK(p[1].starts_with("w.yaml:10:45: actor 'match' (coincidence) keeps state across its 4 instances: its input "
                         "'events' must be partitioned by broadcast, not event_id"));
  // One instance keeps all the state: any partition will do.
  CHECK(problems_of(R"(name: one
actors:
  - {id: sim, type: simulator}
  - {id: gcn, type: events}
  - {id: match, type: coincidence, inputs: {alerts: {from: sim.alerts, partition: any}, events: gcn.events}}
)").empty());
}

TEST_CASE("a malformed partitioned input names its place and the words it may use") {
  auto p = problems_of(R"(name: bad
actors:
  - {id: sim, type: simulator}
  - {id: a, type: count, inputs: {in: {from: sim.alerts, partition: objectid}}}
  - {id: b, type: count, inputs: {in: {frm: sim.alerts}}}
)");
  REQUIRE(p.size() == 3);  // and no follow-on "not wired" for b's input
  CHECK(p[0] == "w.yaml:4:69: 'partition' must be one of any, broadcast, object_id, event_id, not 'objectid' "
                "(did you mean 'object_id'?)");
  CHECK(p[1].starts_with("w.yaml:5:40: unknown input key 'frm'"));
  CHECK(p[2] == "w.yaml:5:39: an input written as a map needs 'from: actor.port'");
}

namespace {

const std::vector<std::string> kZtfCutouts = {"cutoutScience", "cutoutTemplate", "cutoutDifference"};

// Whether an actor downstream of the ZTF source `ztf` uses cutouts (and why), in a workflow of
// `actors` after it.
CutoutUse ztf_cutout_use(const std::string& actors, const std::string& source_keys = "") {
  std::vector<Problem> problems;
  ActorRegistry registry = test_registry();  // the workflow points into it
  static dashboard::DashboardFeed feed;
  register_dashboard_actors(registry, feed);
  auto doc = parse_workflow_text("name: t\nactors:\n  - {id: ztf, type: avro-files, config: {path: '" +
                                     (test::data_dir() / "ztf").string() + "'}" + source_keys + "}\n" + actors,
                                 "w.yaml", problems);
  REQUIRE(doc);
  std::optional<Workflow> workflow = build_workflow(*doc, registry, problems);
  for (const Problem& p : problems) MESSAGE(format_problem(p));
  REQUIRE(workflow);
  return cutout_use_downstream(*workflow, "ztf", kZtfCutouts);
}

}  // namespace

TEST_CASE("the reference workflow uses no cutouts; a dashboard, a file store, raw cutouts or an alert sink do") {
  ::setenv("EBS_TEST_DATA", test::data_dir().c_str(), 1);
  for (const char* file : {"workflows/reference.yaml", "bench/e2e/reference-files.yaml"}) {
    std::vector<Problem> problems;
    auto doc = parse_workflow((test::source_dir() / file).string(), problems);
    REQUIRE(doc);
    ActorRegistry registry = test_registry();
    std::optional<Workflow> workflow = build_workflow(*doc, registry, problems);
    for (const Problem& p : problems) MESSAGE(format_problem(p));
    REQUIRE(workflow);
    const CutoutUse use = cutout_use_downstream(*workflow, "ztf", kZtfCutouts);
    CHECK_MESSAGE(!use.used, file, ": ", use.why);
  }

  const std::string chain = "  - {id: q, type: filter, config: {where: 'candidate.drb > 0.5'}, inputs: [ztf.alerts]}\n"
                            "  - {id: n, type: count, inputs: [q.out]}\n";
  CHECK_FALSE(ztf_cutout_use(chain).used);
  CHECK_FALSE(ztf_cutout_use(chain + "  - {id: db, type: repository, config: {path: x.db}, inputs: [q.out]}\n").used);

  CutoutUse use = ztf_cutout_use(chain + "  - {id: page, type: dashboard, inputs: [q.out]}\n");
  CHECK(use.used);
  CHECK(use.why == "actor 'page' (dashboard) uses them");
  use = ztf_cutout_use(chain + "  - {id: db, type: repository, config: {path: x.db, cutouts_dir: stamps}, inputs: [q.out]}\n");
  CHECK(use.why == "actor 'db' (repository) uses them");
  // Raw records kept with their cutout fields.
  use = ztf_cutout_use(chain + "  - {id: db, type: repository, config: {path: x.db, raw_exclude: [prv_candidates]}, "
                               "inputs: [q.out]}\n");
  CHECK(use.why == "actor 'db' (repository) uses them");
  use = ztf_cutout_use(chain + "  - {id: out, type: jsonl, config: {path: a.jsonl}, inputs: [q.out]}\n");
  CHECK(use.why == "actor 'out' (jsonl) uses them");
  use = ztf_cutout_use(chain + "  - {id: k, type: kafka-sink, config: {topic: t, bootstrap.servers: 'localhost:1'}, "
                               "inputs: [q.out]}\n");
  CHECK(use.why == "actor 'k' (kafka-sink) uses them");
  use = ztf_cutout_use("  - {id: q, type: filter, config: {where: \"cutoutScience.fileName != ''\"}, inputs: [ztf.alerts]}\n");
  CHECK(use.used);
  CHECK(use.why.starts_with("actor 'q' (filter) reads the field 'cutoutScience.fileName' at "));
  use = ztf_cutout_use("  - {id: f, type: filters, config: {filters: {a: \"cutoutTemplate.fileName != ''\"}}, "
                       "inputs: [ztf.alerts]}\n");
  CHECK(use.why == "actor 'f' (filters) uses them");
  CHECK_FALSE(ztf_cutout_use("  - {id: f, type: filters, config: {filters: {a: 'mag < 19'}}, inputs: [ztf.alerts]}\n").used);
  // Dead letters are not followed: an alert failing downstream says its cutouts were not read.
  CHECK_FALSE(ztf_cutout_use(chain + "  - {id: out, type: jsonl, config: {path: dl.jsonl}, inputs: [q.dead_letters]}\n").used);
  // A registry's users get alerts whole (their Kafka topics, webhooks).
  CHECK(ztf_cutout_use("  - {id: f, type: filters, config: {registry: filters.db}, inputs: [ztf.alerts]}\n").why ==
        "actor 'f' (filters) uses them");
  CHECK(ztf_cutout_use(chain + "  - {id: w, type: webhook, config: {url: 'http://localhost:1/hook'}, inputs: [q.out]}\n").why ==
        "actor 'w' (webhook) uses them");
  // A PostgreSQL repository as the SQLite one: its raw records leave ZTF's cutouts out by default.
  const std::string pg = "  - {id: pg, type: postgres-repository, inputs: [q.out], config: {url: 'postgresql://localhost/x'";
  CHECK_FALSE(ztf_cutout_use(chain + pg + "}}\n").used);
  CHECK(ztf_cutout_use(chain + pg + ", raw_exclude: [prv_candidates]}}\n").why == "actor 'pg' (postgres-repository) uses them");
  // More than one instance of the source: the walk is of actors, not instances.
  CHECK_FALSE(ztf_cutout_use("  - {id: n, type: count, inputs: [ztf.alerts]}\n", ", parallelism: 2").used);
  CHECK(ztf_cutout_use("  - {id: page, type: dashboard, inputs: [ztf.alerts]}\n", ", parallelism: 2").used);
}

TEST_CASE("cutouts: skip is refused where an actor downstream uses them, at the option, naming the actor") {
  ActorRegistry registry = test_registry();
  static dashboard::DashboardFeed feed;
  register_dashboard_actors(registry, feed);
  auto problems_with = [&](const std::string& downstream) {
    std::vector<Problem> problems;
    auto doc = parse_workflow_text("name: t\nactors:\n  - id: ztf\n    type: avro-files\n    config: {path: '" +
                                       (test::data_dir() / "ztf").string() + "', cutouts: skip}\n" + downstream,
                                   "w.yaml", problems);
    REQUIRE(doc);
    build_workflow(*doc, registry, problems);
    std::vector<std::string> printed;
    for (const Problem& p : problems) printed.push_back(format_problem(p));
    return printed;
  };
  CHECK(problems_with("  - {id: n, type: count, inputs: [ztf.alerts]}\n").empty());
  const std::vector<std::string> printed = problems_with("  - {id: page, type: dashboard, inputs: [ztf.alerts]}\n");
  REQUIRE(printed.size() == 1);
  CHECK(printed[0].starts_with("w.yaml:5:"));
  CHECK(printed[0].find("cutouts: skip, but actor 'page' (dashboard) uses them") != std::string::npos);
}

TEST_CASE("a type that does not say whether it uses cutouts is taken to use them") {
  ActorRegistry registry = test_registry();
  ActorType silent;
  silent.name = "silent";
  silent.inputs = {{"in", PortType::alert, ""}};
  silent.create = [](const ActorContext&) { return std::make_unique<ActorLogic>(); };
  registry.add(silent);
  std::vector<Problem> problems;
  auto doc = parse_workflow_text("name: t\nactors:\n  - {id: ztf, type: avro-files, config: {path: '" +
                                     (test::data_dir() / "ztf").string() + "'}}\n  - {id: s, type: silent, inputs: [ztf.alerts]}\n",
                                 "w.yaml", problems);
  REQUIRE(doc);
  std::optional<Workflow> workflow = build_workflow(*doc, registry, problems);
  REQUIRE(workflow);
  const CutoutUse use = cutout_use_downstream(*workflow, "ztf", kZtfCutouts);
  CHECK(use.used);
  CHECK(use.why == "actor 's' (silent): its type does not say that it leaves cutouts alone");
}

TEST_CASE("actors' byte keys take sizes with units; a `_mb` key counts a plain number in MiB; a bad size is refused at its place") {
  Built sized = build(R"(name: w
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: db, type: repository, config: {path: a.db, page_cache_mb: 512 KiB, max_size_mb: 2 GiB, lightcurve_cache_mb: 16}, inputs: [sim.alerts]})");
  CHECK(sized.problems.empty());
  // Read as an instance reads them, with the real types' schemas: a `_mb` key declared as plain
  // bytes by mistake would read `2` as 2 bytes here.
  const ActorRegistry registry = test_registry();
  const auto schema_of = [&registry](const std::string& type) {
    const ActorType* found = registry.find(type);
    REQUIRE(found);
    return found->config;
  };
  const std::vector<ConfigKey> repository = schema_of("repository");
  const ActorConfig plain(YAML::Load("{page_cache_mb: 8, max_size_mb: 2, lightcurve_cache_mb: 16}"), "w.yaml", &repository);
  CHECK(plain.bytes("page_cache_mb") == int64_t{8} << 20);  // a plain number: MiB, as the key's name says
  CHECK(plain.bytes("max_size_mb") == int64_t{2} << 20);
  CHECK(plain.bytes("lightcurve_cache_mb") == int64_t{16} << 20);
  const ActorConfig sized_db(YAML::Load("{page_cache_mb: 512 KiB, max_size_mb: 2 GiB, lightcurve_cache_mb: 4096 B}"),
                             "w.yaml", &repository);
  CHECK(sized_db.bytes("page_cache_mb") == 524288);
  CHECK(sized_db.bytes("max_size_mb") == int64_t{2} << 30);
  CHECK(sized_db.bytes("lightcurve_cache_mb") == 4096);
  // The key's default counts in its own unit too: 32 MiB.
  CHECK(ActorConfig(YAML::Load("{}"), "w.yaml", &repository).bytes("page_cache_mb") == int64_t{32} << 20);
  CHECK(ActorConfig(YAML::Load("{}"), "w.yaml", &repository).bytes("lightcurve_cache_mb") == int64_t{32} << 20);
  const std::vector<ConfigKey> filters = schema_of("filters");
  CHECK(ActorConfig(YAML::Load("{output_dead_letter_bytes: 8 MB}"), "w.yaml", &filters).bytes("output_dead_letter_bytes") ==
        8000000);
  CHECK(ActorConfig(YAML::Load("{output_dead_letter_bytes: 4096}"), "w.yaml", &filters).bytes("output_dead_letter_bytes") ==
        4096);
  const std::vector<ConfigKey> join = schema_of("classification-join");
  CHECK(ActorConfig(YAML::Load("{}"), "w.yaml", &join).bytes("max_pending_bytes") == int64_t{64} << 20);
  CHECK(ActorConfig(YAML::Load("{max_pending_bytes: 1000}"), "w.yaml", &join).bytes("max_pending_bytes") == 1000);
  auto p = problems_of(R"(name: w
actors:
  - {id: sim, type: simulator, config: {count: 10}}
  - {id: db, type: repository, config: {path: a.db, page_cache_mb: 8 XB, max_size_mb: -1}, inputs: [sim.alerts]})");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "w.yaml:4:68: config key 'page_cache_mb': '8 XB' is not a size in bytes ('XB' is not a unit): write "
                "4096, 64 KiB, 8 MiB or 1 GiB (KiB, MiB, GiB, TiB: powers of 1024; kB, MB, GB, TB: of 1000); a number "
                "without a unit counts MiB");
  CHECK(p[1].starts_with("w.yaml:4:87: config key 'max_size_mb': '-1' is not a size in bytes (no sign is taken)"));
}
