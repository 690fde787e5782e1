// A cluster run with a node lost on purpose, for tests through the binary (test/cluster_run_test,
// test/filter_service_test): a bash script that starts `ebs-flow node` processes on loopback, runs
// a workflow.yaml on them and signals one of them mid-run.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace ebs::test {

// Starts `ebs-flow node` processes (names), runs the workflow on them, sends `signal` to node
// `victim` (or to the coordinator: "run") `at_s` seconds after the first record reached a sink
// (a loaded machine may take seconds to start the run); a SIGSTOPped node is
// sent SIGCONT once the coordinator declared it lost. Writes NAME.rc (exit code; 137: it did not
// exit on its own within 20 s of the run's end and was killed), run.rc, signal.time (epoch s).
// With `sample_rss`, each node's resident size is written to NAME.rss every 0.25 s ("UNIX_S KB").
// With `http`, the run serves its dashboard ($url in the script, ending in '/') and, once a lost
// node's instances were replaced, its /api/graph and /api/stats are saved (graph-after.json,
// stats-after.json). `before_signal` (shell) runs just before the signal, e.g. a change through
// the run's API. A KILL of a node comes after a SIGSTOP of `stop_s` seconds, during which
// `while_stopped` (shell) runs.
inline std::string cluster_script(const std::vector<std::string>& names, const std::string& victim,
                                  const std::string& signal, double at_s, bool sample_rss = false, bool http = false,
                                  const std::string& before_signal = "", double stop_s = 0.3,
                                  const std::string& while_stopped = "") {
  std::string all, nodes_arg;
  for (const std::string& n : names) all += " " + n;
  for (const std::string& n : names) nodes_arg += (nodes_arg.empty() ? "" : ",") + n + "=127.0.0.1:$(port " + n + ")";
  return "B='" + (binary_dir() / "ebs-flow").string() + "'\nfor n in" + all +
         "; do \"$B\" node --name $n --listen 127.0.0.1:0 --threads 1 > $n.out 2> $n.err & echo $! > $n.pid; done\n"
         "for n in" + all + "; do for i in $(seq 200); do [ -s $n.out ] && break; sleep 0.1; done; done\n" +
         (sample_rss ? "for n in" + all + "; do ( p=$(cat $n.pid); while kill -0 $p 2>/dev/null; do "
                       "echo \"$(date +%s.%N) $(awk '/^VmRSS/ {print $2}' /proc/$p/status)\" >> $n.rss; sleep 0.25; "
                       "done ) & done\n"
                     : "") +
         "port() { sed -n 's/.*127.0.0.1:\\([0-9]*\\).*/\\1/p' $1.out | head -1; }\n"
         "\"$B\" run workflow.yaml --no-progress --nodes " + nodes_arg + (http ? " --http 127.0.0.1:0" : "") +
         " --run-dir out --summary-json summary.json > run.out 2> run.err & echo $! > run.pid\n"
         "for i in $(seq 200); do grep -q 'nodes ready' run.err && break; sleep 0.05; done\n" +
         (http ? "for i in $(seq 200); do grep -q '\"dashboard\"' run.out && break; sleep 0.05; done\n"
                 "url=$(sed -n 's/.*\"dashboard\":\"\\([^\"]*\\)\".*/\\1/p' run.out)\n"
               : "") +
         "for i in $(seq 400); do [ -n \"$(find out -name '*.jsonl' -size +0 2>/dev/null)\" ] && break; sleep 0.05; done\n"
         "sleep " + std::to_string(at_s) + "\n" + before_signal +
         // A node killed between two of the source's batches may hold none: stopped first, it
         // holds what was sent to it meanwhile, so a kill always leaves batches to replay.
         (signal == "KILL" && victim != "run"
              ? "kill -STOP $(cat " + victim + ".pid)\n" + while_stopped + "sleep " + std::to_string(stop_s) + "\n"
              : "") +
         "date +%s.%N > signal.time\nkill -" + signal + " $(cat " + victim + ".pid)\n"
         "if [ " + signal + " = STOP ]; then\n"
         "  for i in $(seq 300); do grep -q 'lost during the run' run.err && break; sleep 0.05; done\n"
         "  sleep 1; kill -CONT $(cat " + victim + ".pid)\nfi\n" +
         (http ? "for i in $(seq 300); do grep -q 'instances replaced on node' run.err && break; sleep 0.05; done\n"
                 "curl -s \"${url}api/graph\" > graph-after.json; curl -s \"${url}api/stats\" > stats-after.json\n"
               : "") +
         "wait $(cat run.pid); echo $? > run.rc\n"
         "for n in" + all + "; do ( sleep 20; kill -9 $(cat $n.pid) 2>/dev/null ) & w=$!; wait $(cat $n.pid); echo $? > $n.rc; "
         "kill $w 2>/dev/null; done\nexit 0\n";
}

// Runs the case's script.sh in `dir`; without the run's exit code (run.rc) there is nothing to judge.
inline void run_script(const std::filesystem::path& dir) {
  auto r = run_command("bash script.sh", dir);
  REQUIRE_MESSAGE(std::filesystem::exists(dir / "run.rc"), r.err);
}

// The exit code a script wrote for `name` (NAME.rc: a node, or "run").
inline int rc(const std::filesystem::path& dir, const std::string& name) {
  return std::stoi(read_file(dir / (name + ".rc")));
}

}  // namespace ebs::test
