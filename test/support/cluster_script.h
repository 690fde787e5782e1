// A cluster run with a node lost on purpose, for tests through the binary (test/cluster_run_test,
// test/filter_service_test): a bash script that starts `ebs-flow node` processes on loopback, runs
// a workflow.yaml on them and signals one of them mid-run.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace ebs::test {

// Shell functions for the scripts of these tests (sh or bash): a wait for what a process prints
// polls until it is there, with a generous deadline for a loaded machine (ctest -j2 beside a
// sanitizer build), and ends the script naming what it waited for, never going on without it.
//   await WHAT SECONDS COMMAND...: runs COMMAND every 0.05 s until it succeeds; past SECONDS it
//     writes "waited SECONDS s for WHAT" to stderr, kills the processes of the *.pid files here
//     and exits 3 (the script's caller then finds no run.rc, or no cN.rc, and shows stderr).
//   fail MESSAGE: the same end at once (MESSAGE to stderr, processes killed, exit 3).
//   exited_early NAME: NAME's process (NAME.pid) has ended: then fail, naming it and showing the
//     end of NAME.err (a node that crashed at start-up ends the wait at once, not after 60 s).
//   port NAME: the port node NAME printed in NAME.out (empty until it printed it).
//   await_ports NAME...: waits until each node printed its port (or one of them ended).
//   printed FILE PATTERN: FILE has a line matching PATTERN (grep).
//   dashboard FILE: the dashboard address a run printed in FILE (its --http line), or empty.
inline std::string script_waits() {
  return "fail() { echo \"$1\" >&2; for _aw_f in *.pid; do [ -f \"$_aw_f\" ] && kill -9 $(cat \"$_aw_f\") 2>/dev/null; done;"
         " exit 3; }\n"
         "await() { _aw_what=$1; _aw_s=$2; shift 2; _aw_end=$(( $(date +%s) + _aw_s )); until \"$@\"; do\n"
         "  if [ $(date +%s) -ge $_aw_end ]; then fail \"waited $_aw_s s for $_aw_what\"; fi\n"
         "  sleep 0.05; done; }\n"
         "exited_early() { kill -0 $(cat $1.pid) 2>/dev/null && return 1;"
         " fail \"$1 ended before what the script waited for; the end of $1.err: $(tail -5 $1.err 2>/dev/null)\"; }\n"
         "port() { sed -n 's/.*127.0.0.1:\\([0-9][0-9]*\\).*/\\1/p' $1.out 2>/dev/null | head -1; }\n"
         "has_port() { [ -n \"$(port $1)\" ] || { exited_early $1; false; }; }\n"
         "await_ports() { for _aw_n in \"$@\"; do await \"node $_aw_n to print its port in $_aw_n.out\" 60 has_port $_aw_n; "
         "done; }\n"
         "printed() { grep -q \"$2\" \"$1\" 2>/dev/null; }\n"
         "dashboard() { sed -n 's/.*\"dashboard\":\"\\([^\"]*\\)\".*/\\1/p' $1 2>/dev/null | head -1; }\n"
         "has_dashboard() { [ -n \"$(dashboard $1)\" ]; }\n";
}

// Shell (after script_waits()): B, the ebs-flow binary; `ebs-flow node` processes `names` started on
// loopback with one thread each (NAME.out, NAME.err, NAME.pid), waited for until each printed its port.
inline std::string start_nodes(const std::vector<std::string>& names) {
  std::string all;
  for (const std::string& n : names) all += " " + n;
  return "B='" + (binary_dir() / "ebs-flow").string() + "'\nfor n in" + all +
         "; do \"$B\" node --name $n --listen 127.0.0.1:0 --threads 1 > $n.out 2> $n.err & echo $! > $n.pid; done\n"
         "await_ports" + all + "\n";
}

// `run --nodes`' argument for the nodes start_nodes started: NAME=127.0.0.1:PORT,...
inline std::string nodes_argument(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n + "=127.0.0.1:$(port " + n + ")";
  return out;
}

// Shell: waits for each node's exit, writing NAME.rc (137: killed when it had not exited within
// `seconds`).
inline std::string await_nodes(const std::vector<std::string>& names, int seconds = 20) {
  std::string all;
  for (const std::string& n : names) all += " " + n;
  return "for n in" + all + "; do ( sleep " + std::to_string(seconds) +
         "; kill -9 $(cat $n.pid) 2>/dev/null ) & w=$!; wait $(cat $n.pid); echo $? > $n.rc; kill $w 2>/dev/null; done\n";
}

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
  std::string all;
  for (const std::string& n : names) all += " " + n;
  return script_waits() + start_nodes(names) +
         (sample_rss ? "for n in" + all + "; do ( p=$(cat $n.pid); while kill -0 $p 2>/dev/null; do "
                       "echo \"$(date +%s.%N) $(awk '/^VmRSS/ {print $2}' /proc/$p/status)\" >> $n.rss; sleep 0.25; "
                       "done ) & done\n"
                     : "") +
         "\"$B\" run workflow.yaml --no-progress --nodes " + nodes_argument(names) + (http ? " --http 127.0.0.1:0" : "") +
         " --run-dir out --summary-json summary.json > run.out 2> run.err & echo $! > run.pid\n"
         "run_ready() { printed run.err 'nodes ready' || { exited_early run; false; }; }\n"
         "await 'the run to say nodes ready in run.err' 60 run_ready\n" +
         (http ? "await 'the run to print its dashboard address in run.out' 60 has_dashboard run.out\n"
                 "url=$(dashboard run.out)\n"
               : "") +
         "sink_written() { [ -n \"$(find out -name '*.jsonl' -size +0 2>/dev/null)\" ]; }\n"
         "await 'a first record at a sink (out/*.jsonl)' 60 sink_written\n"
         "sleep " + std::to_string(at_s) + "\n" + before_signal +
         // A node killed between two of the source's batches may hold none: stopped first, it
         // holds what was sent to it meanwhile, so a kill always leaves batches to replay.
         (signal == "KILL" && victim != "run"
              ? "kill -STOP $(cat " + victim + ".pid)\n" + while_stopped + "sleep " + std::to_string(stop_s) + "\n"
              : "") +
         "date +%s.%N > signal.time\nkill -" + signal + " $(cat " + victim + ".pid)\n"
         "if [ " + signal + " = STOP ]; then\n"
         "  await 'the run to declare the stopped node lost in run.err' 60 printed run.err 'lost during the run'\n"
         "  sleep 1; kill -CONT $(cat " + victim + ".pid)\nfi\n" +
         (http ? "await 'the run to replace the lost node in run.err' 60 printed run.err 'instances replaced on node'\n"
                 "curl -s \"${url}api/graph\" > graph-after.json; curl -s \"${url}api/stats\" > stats-after.json\n"
               : "") +
         "wait $(cat run.pid); echo $? > run.rc\n" + await_nodes(names) +
         // The RSS samplers end within 0.25 s of their node: waited for, so that none appends to
         // NAME.rss while the test removes the directory ("Directory not empty").
         "wait\nexit 0\n";
}

// Runs the case's script.sh in `dir`; without the run's exit code (run.rc) there is nothing to judge.
inline void run_script(const std::filesystem::path& dir) {
  auto r = run_command("bash script.sh", dir);
  REQUIRE_MESSAGE(std::filesystem::exists(dir / "run.rc"), r.err);
}

// The exit code a script wrote for `name` (NAME.rc: a node, or "run").
inline int rc(const std::filesystem::path& dir, const std::string& name) {
  const std::filesystem::path file = dir / (name + ".rc");
  if (!std::filesystem::exists(file))
    throw std::runtime_error("no " + file.string() + ": the script ended before " + name + " did (its stderr says why)");
  return std::stoi(read_file(file));
}

}  // namespace ebs::test
