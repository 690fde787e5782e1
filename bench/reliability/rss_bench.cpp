// rss_bench: the peak RSS of `ebs-flow run` when its sink is 100x slower than its source, on the
// real ZTF alerts of the shared data (looped: a persistent stream). Memory is bounded in bytes
// per edge (64 MiB by default, docs/reliability.md "Records in flight"), so the peak must stay
// flat however long the run (target: < 400 MB; before byte credits it reached 1.39 GB).
//
//   rss_bench [SECONDS]   (default 30; EBS_TEST_DATA as for the tests)
//
// 1. the source's own rate: avro-files (loop) -> count for 5 s;
// 2. the same source into a jsonl sink writing at a hundredth of that rate, for SECONDS, then
//    SIGTERM (a drain bounded by --drain-timeout 2); the same with a count sink as the baseline.
// Prints one JSON line per run: records, rates and peak RSS (the child's ru_maxrss).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;

namespace {

fs::path data_dir() {
  const char* env = std::getenv("EBS_TEST_DATA");
  return env && *env ? fs::path(env) : fs::path(EBS_DEFAULT_TEST_DATA);
}

struct Run {
  nlohmann::json summary;
  double peak_rss_mb = 0;
  int exit_code = -1;
};

// Runs `ebs-flow run WORKFLOW` for `seconds`, then SIGTERM; its summary and peak RSS.
Run run_for(const fs::path& dir, const std::string& workflow, double seconds) {
  std::string name = fs::path(workflow).stem().string();
  fs::path summary = dir / (name + ".json");
  std::string ebs_flow = std::string(EBS_BINARY_DIR) + "/ebs-flow";
  std::string run_dir = (dir / ("run-" + name)).string();
  fs::remove_all(run_dir);
  std::fflush(nullptr);  // else the child's freopen flushes our buffered lines a second time
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string log = (dir / (name + ".log")).string();
    std::freopen(log.c_str(), "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execl(ebs_flow.c_str(), ebs_flow.c_str(), "run", workflow.c_str(), "--quiet", "--run-dir", run_dir.c_str(),
            "--drain-timeout", "2", "--summary-json", summary.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  ::kill(pid, SIGTERM);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.peak_rss_mb = usage.ru_maxrss / 1024.0;  // kilobytes on Linux
  std::ifstream in(summary);
  std::stringstream s;
  s << in.rdbuf();
  r.summary = nlohmann::json::parse(s.str(), nullptr, false);
  fs::remove_all(run_dir);
  return r;
}

uint64_t count_of(const Run& r, const std::string& id, const char* key) {
  if (r.summary.is_discarded() || !r.summary.contains("actors")) return 0;
  for (const auto& a : r.summary["actors"])
    if (a["id"] == id) return a[key].get<uint64_t>();
  return 0;
}

std::string workflow(const fs::path& dir, const std::string& name, const std::string& sink) {
  fs::path path = dir / (name + ".yaml");
  std::ofstream(path) << "name: " << name << "\nactors:\n"
                      << "  - id: src\n    type: avro-files\n    config: {path: '" << (data_dir() / "ztf").string()
                      << "', loop: true}\n"
                      << "  - id: sink\n    inputs: [src.alerts]\n" << sink;
  return path.string();
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 30;
  fs::path dir = fs::temp_directory_path() / ("ebs-rss-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  uint64_t bytes = 0, files = 0;
  for (const auto& e : fs::recursive_directory_iterator(data_dir() / "ztf"))
    if (e.path().extension() == ".avro") bytes += e.file_size(), ++files;
  std::printf("%s\n", nlohmann::json{{"bench", "rss"}, {"alerts", "ZTF, shared data, looped"},
                                     {"files", files}, {"mean_alert_kb", bytes / 1024.0 / std::max<uint64_t>(files, 1)}}
                          .dump()
                          .c_str());

  Run fast = run_for(dir, workflow(dir, "fast", "    type: count\n"), 5);
  double source_rate = count_of(fast, "src", "in") / 5.0;
  std::printf("%s\n", nlohmann::json{{"run", "source into a count sink"}, {"seconds", 5},
                                     {"records", count_of(fast, "src", "in")}, {"records_per_s", source_rate},
                                     {"peak_rss_mb", fast.peak_rss_mb}, {"exit", fast.exit_code}}
                          .dump()
                          .c_str());

  double sink_rate = std::max(1.0, source_rate / 100);
  char sink[256];
  std::snprintf(sink, sizeof sink, "    type: jsonl\n    config: {path: out.jsonl, with_raw: false, fsync: false, max_records_per_s: %.1f}\n",
                sink_rate);
  Run slow = run_for(dir, workflow(dir, "slow", sink), seconds);
  std::printf("%s\n", nlohmann::json{{"run", "source into a jsonl sink 100x slower"},
                                     {"seconds", seconds},
                                     {"sink_records_per_s", sink_rate},
                                     {"read", count_of(slow, "src", "in")},
                                     {"written", count_of(slow, "sink", "forwarded")},
                                     {"peak_rss_mb", slow.peak_rss_mb},
                                     {"target_mb", 400},
                                     {"within_target", slow.peak_rss_mb < 400},
                                     {"exit", slow.exit_code}}
                          .dump()
                          .c_str());
  fs::remove_all(dir);
  return slow.peak_rss_mb < 400 ? 0 : 1;
}
