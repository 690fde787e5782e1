// Honest runs (issue 16), through the ebs-flow binary as a user meets it: every actor family
// stops cleanly on the first SIGINT (the second forces), an unreachable or vanished broker ends
// the run within its time-out with a message naming it, where a consumer group starts reading,
// field names checked at validate, one rule for relative paths, and the closing block.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "test/support/child_process.h"
#include "test/support/postgres_server.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ebs::test;

namespace {

std::string ebs_flow() { return (binary_dir() / "ebs-flow").string(); }
std::string repo(const std::string& path) { return (source_dir() / path).string(); }
std::string data(const std::string& path) { return (data_dir() / path).string(); }

fs::path scratch(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("ebs-honest-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

size_t lines_of(const fs::path& path) {
  std::string text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

const json* actor_in(const json& summary, const std::string& id) {
  for (const json& a : summary["actors"])
    if (a["id"] == id) return &a;
  return nullptr;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// An endless simulator feeding `body` (actors reading sim.alerts).
std::string endless(const std::string& name, const std::string& body, const std::string& sim = "{count: 0, rate: 20000, seed: 3}") {
  return "name: " + name + "\nactors:\n  - id: sim\n    type: simulator\n    config: " + sim + "\n" + body;
}

}  // namespace

TEST_CASE("every actor family stops cleanly on the first SIGINT: drained, summarised, exit 0") {
  struct Family {
    std::string name, yaml, last_actor;
  };
  std::vector<Family> families{
      {"sources-kafka",
       "name: sources-kafka\nactors:\n"
       "  - id: src\n    type: kafka\n    config:\n      topics: [ztf]\n      assign: true\n"
       "      embedded_broker: {partitions: 2, preload: [\"" + data("ztf/kowalski-v3.3-v4.01") + "\"]}\n"
       "  - id: sim\n    type: simulator\n    config: {count: 0, rate: 5000}\n"
       "  - id: n\n    type: count\n    inputs: [src.alerts, sim.alerts]\n",
       "n"},
      {"transforms", endless("transforms",
                             "  - id: keep\n    type: filter\n    config: {where: \"mag < 20\"}\n    inputs: [sim.alerts]\n"
                             "  - id: same\n    type: passthrough\n    inputs: [keep.out]\n"
                             "  - id: n\n    type: count\n    inputs: [same.out]\n"),
       "n"},
      {"crossmatch", endless("crossmatch",
                             "  - id: xmatch\n    type: crossmatch\n    config:\n      catalogues:\n"
                             "        - {file: " + repo("catalogs/gcvs.yaml") + ", radius_arcsec: 60}\n"
                             "    inputs: [sim.alerts]\n"
                             "  - id: n\n    type: count\n    inputs: [xmatch.out]\n",
                             "{count: 0, rate: 20000, seed: 5, ra_min: 265, ra_max: 275, dec_min: -35, dec_max: -25}"),
       "n"},
      // The issue's case: XGBoost's OpenMP threads took SIGINT and the run died with 130.
      {"ml-scorer", endless("ml-scorer",
                            "  - id: features\n    type: features\n    inputs: [sim.alerts]\n"
                            "  - id: score\n    type: xgboost-score\n    config:\n      models: [" +
                                repo("models/example-transient-lc-basic-1.ubj") + "]\n    inputs: [features.out]\n"
                                "  - id: n\n    type: count\n    inputs: [score.out]\n"),
       "n"},
      {"coincidence",
       "name: coincidence\nactors:\n"
       "  - id: notices\n    type: notice-files\n    config: {path: \"" + data("gcn/lvk-fink-mm/S230518h-initial.json") + "\"}\n"
       "  - id: sim\n    type: simulator\n"
       "    config: {count: 0, rate: 20000, seed: 11, ra_min: 85, ra_max: 105, dec_min: -20, dec_max: 0, start_mjd: 60082.6}\n"
       "  - id: match\n    type: coincidence\n    inputs: {alerts: sim.alerts, events: notices.events}\n"
       "  - id: out\n    type: jsonl\n    config: {path: coincidences.jsonl}\n    inputs: [match.coincidences]\n",
       "out"},
      {"sinks", endless("sinks",
                        "  - id: out\n    type: jsonl\n    config: {path: out.jsonl, with_raw: false}\n    inputs: [sim.alerts]\n"
                        "  - id: repo\n    type: repository\n    config: {path: repo.db}\n    inputs: [sim.alerts]\n"),
       "out"},
  };
  for (const Family& family : families) {
    SUBCASE(family.name.c_str()) {
      fs::path dir = scratch("signal-" + family.name);
      write(dir / "wf.yaml", family.yaml);
      auto start = std::chrono::steady_clock::now();
      auto r = run_command("timeout --preserve-status -s INT 2 " + ebs_flow() +
                               " run wf.yaml --run-dir run --summary-json summary.json",
                           dir);
      INFO(r.err);
      CHECK(r.exit_code == 0);
      CHECK(seconds_since(start) < 20);
      json summary = json::parse(read_file(dir / "summary.json"));
      CHECK(summary["interrupted"] == true);
      CHECK(summary["accounting_ok"] == true);
      const json* last = actor_in(summary, family.last_actor);
      REQUIRE(last != nullptr);
      CHECK(r.err.find("SIGINT received") != std::string::npos);
      CHECK(r.err.find("stopped by signal (drained)") != std::string::npos);
      fs::remove_all(dir);
    }
  }
}

#ifdef EBS_WITH_TORCH
// Issue 20: torch-score's instances compute on detached threads of their own (libtorch on each),
// counted within --threads; a SIGINT in mid-stream still drains them and the run exits 0.
TEST_CASE("torch-score: its threads count within --threads, and the first SIGINT mid-stream drains it") {
  fs::path dir = scratch("torch-sigint");
  write(dir / "wf.yaml", endless("torch-sigint",
                                 "  - id: score\n    type: torch-score\n    parallelism: 2\n    config:\n      models:\n"
                                 "        - {model: " + repo("models/lc-gru-lightcurve-30.pt") + ", name: gru}\n"
                                 "        - {model: " + repo("models/example-transient-lc-basic-1.ubj") + ", name: xgb}\n"
                                 "    inputs: [sim.alerts]\n"
                                 "  - id: out\n    type: jsonl\n    config: {path: out.jsonl, with_raw: false}\n"
                                 "    inputs: [score.out]\n",
                                 "{count: 0, rate: 2000, seed: 4}"));
  Child run(ebs_flow() + " run wf.yaml --threads 3 --run-dir run --summary-json summary.json", dir, dir / "out.txt",
            dir / "err.txt");
  // Mid-stream: the networks loaded and scored alerts have reached the sink.
  const bool scoring = wait_until([&] { return lines_of(dir / "run" / "out.jsonl") >= 200 || !run.running(); },
                                  std::chrono::seconds(60));
  INFO(read_file(dir / "err.txt"));
  REQUIRE(scoring);
  REQUIRE(run.running());
  ::kill(run.pid, SIGINT);
  REQUIRE(wait_until([&] { return !run.running(); }, std::chrono::seconds(30)));  // else killed with the Child
  CHECK(run.exit_code == 0);
  const std::string err = read_file(dir / "err.txt");
  CHECK(err.find("SIGINT received") != std::string::npos);
  CHECK(err.find("stopped by signal (drained)") != std::string::npos);
  CHECK(err.find("threads: 3 (--threads): 1 for the scheduler, 2 computing in score (2)") != std::string::npos);
  json summary = json::parse(read_file(dir / "summary.json"));
  CHECK(summary["interrupted"] == true);
  CHECK(summary["accounting_ok"] == true);
  CHECK(summary["threads"] == json{{"total", 3}, {"requested", true}, {"scheduler", 1}, {"dedicated", 2},
                                   {"dedicated_by_actor", {{"score", 2}}}});
  const json* score = actor_in(summary, "score");
  const json* out = actor_in(summary, "out");
  REQUIRE(score != nullptr);
  REQUIRE(out != nullptr);
  CHECK((*score)["forwarded"].get<uint64_t>() >= 200);
  CHECK((*score)["failed"] == 0);
  CHECK((*out)["forwarded"] == (*score)["forwarded"]);  // drained: everything scored was written
  CHECK(lines_of(dir / "run" / "out.jsonl") == (*out)["forwarded"].get<size_t>());
  const std::string first = read_file(dir / "run" / "out.jsonl").substr(0, 4096);
  CHECK(first.find("\"gru\"") != std::string::npos);
  fs::remove_all(dir);
}
#endif

TEST_CASE("a background run (SIGINT ignored by the shell) with XGBoost still stops on SIGINT; a second signal forces") {
  fs::path dir = scratch("background");
  write(dir / "wf.yaml", endless("background",
                                 "  - id: features\n    type: features\n    inputs: [sim.alerts]\n"
                                 "  - id: score\n    type: xgboost-score\n    config:\n      models: [" +
                                     repo("models/example-transient-lc-basic-1.ubj") + "]\n    inputs: [features.out]\n"
                                     "  - id: n\n    type: count\n    inputs: [score.out]\n"));
  // sh without job control starts `&` jobs with SIGINT ignored: the issue's "ignored SIGINT".
  auto r = run_command("sh -c '" + ebs_flow() +
                           " run wf.yaml --run-dir run --summary-json summary.json & pid=$!; sleep 3; kill -INT $pid; wait $pid'",
                       dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(json::parse(read_file(dir / "summary.json"))["interrupted"] == true);

  // A sink far slower than its input: the drain would take minutes, the second signal ends it.
  write(dir / "slow.yaml", endless("slow",
                                   "  - id: out\n    type: jsonl\n    config: {path: out.jsonl, max_records_per_s: 20}\n"
                                   "    inputs: [sim.alerts]\n",
                                   "{count: 0}"));
  auto start = std::chrono::steady_clock::now();
  auto forced = run_command("sh -c '" + ebs_flow() +
                                " run slow.yaml --run-dir run & pid=$!; sleep 2; kill -TERM $pid; sleep 1; kill -TERM $pid; wait $pid'",
                            dir);
  INFO(forced.err);
  CHECK(forced.exit_code == 128 + 15);
  CHECK(forced.err.find("second SIGTERM: stopping now without draining") != std::string::npos);
  CHECK(seconds_since(start) < 10);
  fs::remove_all(dir);
}

TEST_CASE("an unreachable broker ends the run within connect_timeout_s, in ebs-flow's words") {
  fs::path dir = scratch("unreachable");
  write(dir / "wf.yaml",
        "name: unreachable\nactors:\n"
        "  - id: src\n    type: kafka\n"
        "    config: {topics: [ztf], bootstrap.servers: \"127.0.0.1:1\", stop_at_end: true, connect_timeout_s: 2}\n"
        "  - id: n\n    type: count\n    inputs: [src.alerts]\n");
  auto start = std::chrono::steady_clock::now();
  auto r = run_command(ebs_flow() + " run wf.yaml --run-dir run --summary-json summary.json", dir);
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(seconds_since(start) < 15);
  CHECK(r.err.find("cannot reach the Kafka broker '127.0.0.1:1' within 2 s (connect_timeout_s; 0 = keep trying)") !=
        std::string::npos);
  // librdkafka's own lines come through spdlog, not as raw "%3|..." lines.
  CHECK(r.err.find("%3|") == std::string::npos);
  json summary = json::parse(read_file(dir / "summary.json"));
  CHECK(summary["accounting_ok"] == true);
  CHECK(summary["failures"].size() == 1);

  // validate --connect finds it (and an unreachable webhook host) before a run.
  write(dir / "connect.yaml",
        "name: connect\nactors:\n"
        "  - id: src\n    type: kafka\n    config: {topics: [ztf], bootstrap.servers: \"127.0.0.1:1\", connect_timeout_s: 2}\n"
        "  - id: hook\n    type: webhook\n    config: {url: \"http://127.0.0.1:1/alerts\", timeout_ms: 2000}\n"
        "    inputs: [src.alerts]\n");
  auto v = run_command(ebs_flow() + " validate connect.yaml", dir);
  CHECK(v.exit_code == 0);  // without --connect nothing is reached
  auto c = run_command(ebs_flow() + " validate --connect connect.yaml", dir);
  INFO(c.err);
  CHECK(c.exit_code == 1);
  CHECK(c.err.find("connect.yaml:5:") != std::string::npos);
  CHECK(c.err.find("cannot reach the Kafka broker '127.0.0.1:1'") != std::string::npos);
  CHECK(c.err.find("cannot reach the webhook host of http://127.0.0.1:1/alerts") != std::string::npos);
  write(dir / "embedded.yaml",
        "name: embedded\nactors:\n"
        "  - id: src\n    type: kafka\n    config: {topics: [ztf], embedded_broker: {partitions: 1}}\n"
        "  - id: n\n    type: count\n    inputs: [src.alerts]\n");
  auto e = run_command(ebs_flow() + " validate --connect embedded.yaml", dir);
  CHECK(e.exit_code == 0);
  CHECK(json::parse(e.out)["connected"] == true);
  fs::remove_all(dir);
}

TEST_CASE("validate --connect checks that the topics a workflow reads exist, naming the topic, the broker and the nearest topic") {
  fs::path dir = scratch("topics");
  auto workflow = [](const std::string& name, const std::string& topics) {
    return "name: " + name + "\nactors:\n  - id: src\n    type: kafka\n"
           "    config: {topics: " + topics + ", bootstrap.servers: \"${BROKERS}\", connect_timeout_s: 5}\n"
           "  - id: n\n    type: count\n    inputs: [src.alerts]\n";
  };
  write(dir / "typo.yaml", workflow("typo", "[ztf-alerts, ztf-alrets]"));
  write(dir / "regex.yaml", workflow("regex", "[\"^rubin-.*\"]"));
  write(dir / "ok.yaml", workflow("ok", "[ztf-alerts, \"^ztf-.*\"]"));
  std::string script =
      "set -u\n" + ebs_flow() + " broker --topic ztf-alerts --partitions 1 > broker.json & bpid=$!\n"
      "for i in $(seq 50); do [ -s broker.json ] && break; sleep 0.1; done\n"
      "BROKERS=$(sed 's/.*\"bootstrap_servers\":\"\\([^\"]*\\)\".*/\\1/' broker.json); export BROKERS\n"
      "echo $BROKERS > brokers\n" +
      ebs_flow() + " validate --connect typo.yaml > typo.out 2> typo.err; echo $? > typo.rc\n" +
      ebs_flow() + " validate --connect regex.yaml > regex.out 2> regex.err; echo $? > regex.rc\n" +
      ebs_flow() + " validate --connect ok.yaml > ok.out 2> ok.err; echo $? > ok.rc\n"
      "kill $bpid; wait $bpid\n";
  write(dir / "script.sh", script);
  run_command("sh script.sh", dir);
  std::string brokers = read_file(dir / "brokers");
  brokers.erase(brokers.find_last_not_of("\n") + 1);
  REQUIRE(!brokers.empty());
  std::string typo = read_file(dir / "typo.err");
  INFO(typo);
  CHECK(read_file(dir / "typo.rc") == "1\n");
  CHECK(typo.find("typo.yaml:5:22: the Kafka broker '" + brokers + "' has no topic 'ztf-alrets' (did you mean 'ztf-alerts'?)\n") !=
        std::string::npos);
  CHECK(typo.find("'ztf-alerts'") != std::string::npos);  // the existing topic is not reported
  CHECK(typo.find("no topic 'ztf-alerts'") == std::string::npos);
  std::string regex = read_file(dir / "regex.err");
  INFO(regex);
  CHECK(read_file(dir / "regex.rc") == "1\n");
  CHECK(regex.find("no topic on the Kafka broker '" + brokers + "' matches '^rubin-.*'") != std::string::npos);
  INFO(read_file(dir / "ok.err"));
  CHECK(read_file(dir / "ok.rc") == "0\n");
  CHECK(json::parse(read_file(dir / "ok.out"))["connected"] == true);
  fs::remove_all(dir);
}

// `ebs-flow broker` in the background: a cluster that outlives runs (consumer groups) and can
// disappear mid-run. The script prints what the test checks.
TEST_CASE("consumer groups: where each partition is read from, start: earliest re-reads, a vanished broker stops the run") {
  fs::path dir = scratch("groups");
  write(dir / "wf.yaml",
        "name: groups\nactors:\n"
        "  - id: src\n    type: kafka\n"
        "    config: {topics: [ztf], bootstrap.servers: \"${BROKERS}\", group: night, assign: true, stop_at_end: true}\n"
        "  - id: out\n    type: jsonl\n    config: {path: out.jsonl, with_raw: false}\n    inputs: [src.alerts]\n");
  std::string script =
      "set -u\n" + ebs_flow() + " broker --topic ztf --partitions 2 > broker.json & bpid=$!\n"
      "for i in $(seq 50); do [ -s broker.json ] && break; sleep 0.1; done\n"
      "BROKERS=$(sed 's/.*\"bootstrap_servers\":\"\\([^\"]*\\)\".*/\\1/' broker.json); export BROKERS\n" +
      ebs_flow() + " replay " + data("ztf/kowalski-v3.3-v4.01") + " --topic ztf --brokers $BROKERS >/dev/null 2>replay.err\n" +
      ebs_flow() + " run wf.yaml --run-dir run1 --summary-json s1.json 2>run1.err; echo $? > rc1\n" +
      ebs_flow() + " run wf.yaml --run-dir run2 --summary-json s2.json 2>run2.err; echo $? > rc2\n" +
      ebs_flow() + " run wf.yaml --run-dir run3 --summary-json s3.json --set src.start=earliest 2>run3.err; echo $? > rc3\n"
      // Mid-run loss: an endless run (no stop_at_end), the broker killed under it.
      + ebs_flow() + " run wf.yaml --run-dir run4 --summary-json s4.json --set src.stop_at_end=false "
      "--set src.start=earliest --set src.reconnect_timeout_s=2 2>run4.err & rpid=$!\n"
      "sleep 3; kill -KILL $bpid; wait $rpid; echo $? > rc4\n";
  write(dir / "script.sh", script);
  auto start = std::chrono::steady_clock::now();
  auto r = run_command("sh script.sh", dir);
  INFO(read_file(dir / "replay.err"));
  std::string run1 = read_file(dir / "run1.err"), run2 = read_file(dir / "run2.err"), run3 = read_file(dir / "run3.err"),
              run4 = read_file(dir / "run4.err");
  INFO(run1);
  INFO(run2);
  CHECK(seconds_since(start) < 60);
  CHECK(read_file(dir / "rc1") == "0\n");
  size_t first = lines_of(dir / "run1" / "out.jsonl");
  CHECK(first > 0);
  CHECK(run1.find("ztf/0 from earliest (group 'night' has no committed offset): offset 0, lag") != std::string::npos);
  // The same group again: nothing new, and it says so.
  CHECK(read_file(dir / "rc2") == "0\n");
  CHECK(lines_of(dir / "run2" / "out.jsonl") == 0);
  CHECK(run2.find("from the committed offset") != std::string::npos);
  CHECK(run2.find("nothing new to read: group 'night'") != std::string::npos);
  CHECK(run2.find("--set src.start=earliest") != std::string::npos);
  // start: earliest reads it all again.
  CHECK(read_file(dir / "rc3") == "0\n");
  CHECK(lines_of(dir / "run3" / "out.jsonl") == first);
  // The broker gone mid-run: reconnect for 2 s, then a clean stop, exit 1, every record written
  // that was read.
  INFO(run4);
  CHECK(read_file(dir / "rc4") == "1\n");
  CHECK(run4.find("lost the Kafka broker") != std::string::npos);
  CHECK(run4.find("reconnect_timeout_s") != std::string::npos);
  json s4 = json::parse(read_file(dir / "s4.json"));
  CHECK(s4["accounting_ok"] == true);
  CHECK((*actor_in(s4, "out"))["forwarded"] == lines_of(dir / "run4" / "out.jsonl"));
  CHECK((*actor_in(s4, "src"))["forwarded"] == first);
  fs::remove_all(dir);
}

TEST_CASE("field names are checked at validate against the upstream profiles and scores") {
  fs::path dir = scratch("fields");
  // The issue's typos on real ZTF files: an error with the nearest name.
  write(dir / "typo.yaml",
        "name: typo\nactors:\n"
        "  - id: src\n    type: avro-files\n    config: {path: \"" + data("ztf") + "\", profile: ztf-3}\n"
        "  - id: f\n    type: filter\n    config: {where: \"candidate.drb > 0.5 and candidate.magpfs < 19.5\"}\n"
        "    inputs: [src.alerts]\n"
        "  - id: n\n    type: count\n    inputs: [f.out]\n");
  auto typo = run_command(ebs_flow() + " validate typo.yaml", dir);
  CHECK(typo.exit_code == 1);
  CHECK(typo.err.find("typo.yaml:8:21: ") != std::string::npos);
  CHECK(typo.err.find("no record reaching 'f' has the field 'candidate.magpfs' (did you mean 'candidate.magpsf'") !=
        std::string::npos);
  CHECK(typo.err.find("candidate.drb'") == std::string::npos);

  // An sql-filter's typo: the column inside the query, with the nearest column.
  write(dir / "sql.yaml",
        endless("sql",
                "  - id: repo\n    type: repository\n    config: {path: repo.db}\n    inputs: [sim.alerts]\n"
                "  - id: q\n    type: sql-filter\n"
                "    config: {db: repo.db, query: \"SELECT 1 FROM objects WHERE object_id = :object_id AND ndett >= 3\"}\n"
                "    inputs: [repo.committed]\n"
                "  - id: n\n    type: count\n    inputs: [q.out]\n",
                "{count: 10}"));
  auto sql = run_command(ebs_flow() + " validate sql.yaml", dir);
  INFO(sql.err);
  CHECK(sql.exit_code == 1);
  CHECK(sql.err.find("sql.yaml:12:90: no such column: ndett (did you mean 'ndet'") != std::string::npos);

  // A field only some profiles have: a warning, validate passes.
  auto forced_flux = [](const std::string& name, const std::string& path) {
    return "name: " + name + "\nactors:\n  - id: src\n    type: avro-files\n    config: {path: \"" + path + "\"}\n"
           "  - id: f\n    type: filter\n    config: {where: \"fp_hists.0.forcediffimflux > 0\"}\n    inputs: [src.alerts]\n"
           "  - id: n\n    type: count\n    inputs: [f.out]\n";
  };
  write(dir / "some.yaml", forced_flux("some", data("ztf")));
  auto some = run_command(ebs_flow() + " validate some.yaml", dir);
  INFO(some.err);
  CHECK(some.exit_code == 0);
  CHECK(some.err.find("warning: the field 'fp_hists.forcediffimflux' is only in 'profile ztf-4'") != std::string::npos);
  // At run time, ZTF 3 files lack it: warned once, and in the closing block.
  write(dir / "some3.yaml", forced_flux("some3", data("ztf/fink-20200101-v3.3")));
  auto some3 = run_command(ebs_flow() + " run some3.yaml --run-dir run", dir);
  INFO(some3.err);
  CHECK(some3.exit_code == 0);
  CHECK(some3.err.find("the field 'fp_hists.0.forcediffimflux' is absent from all") != std::string::npos);
  CHECK(some3.err.find("warnings:\n  f: field 'fp_hists.0.forcediffimflux' was absent from every record of a batch") !=
        std::string::npos);

  // The reference workflow's quality cut reads ZTF-only fields: a warning over every profile, none
  // over the two a list names; the run then reads both ZTF schema generations of the shared data.
  auto quality = [](const std::string& name, const std::string& path, const std::string& profile) {
    return "name: " + name + "\nactors:\n  - id: src\n    type: avro-files\n    config: {path: \"" + path + "\"" +
           profile + "}\n  - id: f\n    type: filter\n"
           "    config: {where: \"candidate.drb > 0.5 and candidate.nbad == 0\"}\n    inputs: [src.alerts]\n"
           "  - id: n\n    type: count\n    inputs: [f.out]\n";
  };
  write(dir / "all.yaml", quality("all", data("ztf"), ""));
  auto all = run_command(ebs_flow() + " validate all.yaml", dir);
  CHECK(all.exit_code == 0);
  CHECK(all.err.find("warning: the field 'candidate.drb' is only in") != std::string::npos);
  write(dir / "ztf.yaml", quality("ztf", data("ztf"), ", profile: [ztf-3, ztf-4]"));
  auto ztf = run_command(ebs_flow() + " validate ztf.yaml", dir);
  INFO(ztf.err);
  CHECK(ztf.exit_code == 0);
  CHECK(ztf.err.find("warning") == std::string::npos);
  auto ztf_run = run_command(ebs_flow() + " run ztf.yaml --quiet --run-dir run-ztf --summary-json ztf.json", dir);
  INFO(ztf_run.err);
  CHECK(ztf_run.exit_code == 0);
  const json ztf_summary = json::parse(read_file(dir / "ztf.json"));
  CHECK((*actor_in(ztf_summary, "src"))["forwarded"] == 86);  // both generations, none a dead letter
  write(dir / "unknown.yaml", quality("unknown", data("ztf"), ", profile: [ztf-3, ztf-5]"));
  auto unknown = run_command(ebs_flow() + " validate unknown.yaml", dir);
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("unknown.yaml:5:") != std::string::npos);
  CHECK(unknown.err.find("no profile named 'ztf-5' (known: atlas, ") != std::string::npos);

  // A score named after a model file's stem reads as a subtraction: the error says to quote it.
  std::string scorer = "  - id: features\n    type: features\n    inputs: [sim.alerts]\n"
                       "  - id: score\n    type: xgboost-score\n    config:\n      models: [" +
                       repo("models/example-transient-lc-basic-1.ubj") + "]\n    inputs: [features.out]\n";
  write(dir / "stem.yaml", endless("stem", scorer +
                                               "  - id: f\n    type: filter\n"
                                               "    config: {where: \"score.example-transient-lc-basic-1 > 0.5\"}\n"
                                               "    inputs: [score.out]\n",
                                   "{count: 10}"));
  auto stem = run_command(ebs_flow() + " validate stem.yaml", dir);
  INFO(stem.err);
  CHECK(stem.exit_code == 1);
  CHECK(stem.err.find("is not an identifier, so it reads as a subtraction: quote the name, "
                      "score.`example-transient-lc-basic-1`") != std::string::npos);
  write(dir / "quoted.yaml", endless("quoted", scorer +
                                                   "  - id: f\n    type: filter\n"
                                                   "    config: {where: \"score.`example-transient-lc-basic-1` > 0.5\"}\n"
                                                   "    inputs: [score.out]\n"
                                                   "  - id: n\n    type: count\n    inputs: [f.out]\n",
                                     "{count: 300, seed: 11}"));
  auto quoted = run_command(ebs_flow() + " run quoted.yaml --run-dir run --summary-json s.json", dir);
  INFO(quoted.err);
  CHECK(quoted.exit_code == 0);
  json summary = json::parse(read_file(dir / "s.json"));
  const json* f = actor_in(summary, "f");
  REQUIRE(f != nullptr);
  CHECK((*f)["forwarded"].get<uint64_t>() > 0);  // the quoted name reads the score
  fs::remove_all(dir);
}

TEST_CASE("relative paths are relative to the workflow file, whatever the shell's directory") {
  fs::path dir = scratch("paths");
  fs::create_directories(dir / "night" / "alerts");
  for (const char* name : {"1105522281015015000.avro", "1127107111615015007.avro"})
    fs::create_symlink(data("ztf/kowalski-v3.3-v4.01/") + name, dir / "night" / "alerts" / name);
  write(dir / "night" / "wf.yaml",
        "name: paths\nactors:\n"
        "  - id: src\n    type: avro-files\n    config: {path: alerts}\n"
        "  - id: out\n    type: jsonl\n    config: {path: out.jsonl, with_raw: false}\n    inputs: [src.alerts]\n");
  // Run from elsewhere: the input is found next to the workflow; the output is in the run dir.
  auto r = run_command(ebs_flow() + " run night/wf.yaml --run-dir run --summary-json s.json", dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(lines_of(dir / "run" / "out.jsonl") == 2);
  // A missing input: validate names the resolved path.
  write(dir / "night" / "missing.yaml",
        "name: missing\nactors:\n"
        "  - id: src\n    type: avro-files\n    config: {path: tonight}\n"
        "  - id: n\n    type: count\n    inputs: [src.alerts]\n");
  auto v = run_command(ebs_flow() + " validate night/missing.yaml", dir);
  CHECK(v.exit_code == 1);
  CHECK(v.err == "night/missing.yaml:5:20: no such file or directory: night/tonight (relative paths are relative to "
                 "the workflow file)\n");
  fs::remove_all(dir);
}

TEST_CASE("the closing block lists outputs, dead letters with the replay command, and warnings; progress has % and ETA") {
  fs::path dir = scratch("closing");
  fs::create_directories(dir / "in");
  size_t avro = 0;
  for (const auto& e : fs::directory_iterator(data("ztf/kowalski-v3.3-v4.01"))) {
    if (avro++ == 8) break;
    fs::create_symlink(e.path(), dir / "in" / e.path().filename());
  }
  write(dir / "in" / "notes.txt", "not an alert\n");
  write(dir / "in" / "broken.avro", "Obj\x01 garbage");
  write(dir / "wf.yaml",
        "name: closing\nactors:\n"
        "  - id: src\n    type: avro-files\n    config: {path: in}\n"
        "  - id: out\n    type: jsonl\n    config: {path: alerts.jsonl, with_raw: false, max_records_per_s: 4}\n"
        "    inputs: [src.alerts]\n");
  auto r = run_command(ebs_flow() + " run wf.yaml --run-dir run --progress", dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("% done  ETA ") != std::string::npos);
  CHECK(r.err.find("outputs:\n  run/alerts.jsonl  8 records  (out)\n") != std::string::npos);
  CHECK(r.err.find("dead letters: 2 in run/dead-letters.jsonl\n") != std::string::npos);
  CHECK(r.err.find("replay once fixed: a `dead-letters` source {path: ") != std::string::npos);
  CHECK(r.err.find("ebs-flow replay ") != std::string::npos);
  CHECK(r.err.find("warnings:\n  src: 2 of 10 input files were not Avro alerts") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the closing block lists a PostgreSQL repository: the server and database (never the password), records") {
  fs::path dir = scratch("closing-pg");
  const std::string url = fresh_postgres_database("closing");  // postgresql://postgres@127.0.0.1:PORT/NAME
  const std::string with_password = "postgresql://postgres:s3cret@" + url.substr(url.find('@') + 1);
  write(dir / "wf.yaml",
        "name: closing-pg\nactors:\n"
        "  - id: src\n    type: avro-files\n    config: {path: \"" + data("ztf/kowalski-v3.3-v4.01") + "\"}\n"
        "  - id: pg\n    type: postgres-repository\n    config: {url: \"" + with_password + "\"}\n"
        "    inputs: [src.alerts]\n");
  auto r = run_command(ebs_flow() + " run wf.yaml --run-dir run", dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const std::string place = "postgresql://" + url.substr(url.find('@') + 1);
  CHECK(r.err.find("outputs:\n  " + place + "  36 records  (pg)\n") != std::string::npos);
  CHECK(r.err.find("s3cret") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("actors TYPE describes one type as text (JSON with --json); port errors list the valid ports") {
  auto text = run_command(ebs_flow() + " actors filter", fs::current_path());
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("filter (version") == 0);
  CHECK(text.out.find("inputs:\n  in  Alert") != std::string::npos);
  CHECK(text.out.find("  dead_letters  DeadLetter") != std::string::npos);
  CHECK(text.out.find("  where  expression, required") != std::string::npos);
  auto js = run_command(ebs_flow() + " actors filter --json", fs::current_path());
  CHECK(json::parse(js.out)["type"] == "filter");
  auto unknown = run_command(ebs_flow() + " actors filtre", fs::current_path());
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("did you mean filter") != std::string::npos);

  fs::path dir = scratch("ports");
  write(dir / "wf.yaml", endless("ports",
                                 "  - id: n\n    type: count\n    inputs: {input: sim.alerts}\n", "{count: 5}"));
  auto v = run_command(ebs_flow() + " validate wf.yaml", dir);
  CHECK(v.exit_code == 1);
  CHECK(v.err.find("type 'count' has no input port 'input'; its input ports: in") != std::string::npos);
  fs::remove_all(dir);
}
