// Runs every workflow fixture in test/fixtures through the ebs-flow binary:
//   expected-validate.txt  the exact problems `ebs-flow validate` prints (and exit code 1)
//   expected.json          {"args": [...], "exit_code": 0, "actors": {id: {counter: n}},
//                           "files": {path: {"lines": n, "contains": [text, ...],
//                                            "same_lines_as": other path}},   (the same lines, in
//                                       any order: e.g. a parallel actor's output and a serial one's)
//                           "workflow": "../../../workflows/x.yaml"   (instead of workflow.yaml: a
//                                       ready workflow of workflows/, e.g. a tutorial's),
//                           "commands": [{"args": ["query", "{run_dir}/x.db", ...], "exit_code": 0,
//                                         "lines": n, "contains": [text, ...]}],   (run after the
//                                       workflow, as a tutorial tells its reader to)
//                           "before": [commands],   (run before the workflow: a replay, a training)
//                           "broker": {"topics": [...], "partitions": n},   (an `ebs-flow broker`
//                                       beside the run, for tutorials that publish and read topics)
//                           "env": {"NAME": "value"}}   (for the run and the commands)
//                         In args and env values {run_dir} is the run directory, {data} the shared
//                         test data, {brokers} the broker's bootstrap servers (also $EBS_KAFKA_BROKERS).
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "test/support/binary_broker.h"
#include "test/support/subprocess.h"
#include "test/support/test_data.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ebs::test;

namespace {

std::string environment() {
  return "EBS_PLUGIN_DIR='" + (binary_dir() / "plugins").string() + "' EBS_TEST_DATA='" + data_dir().string() +
         "' ";
}

size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// {run_dir}, {data} and {brokers} replaced.
std::string expanded(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values)
    for (size_t at; (at = text.find(name)) != std::string::npos;) text.replace(at, name.size(), value);
  return text;
}

void run_commands(const json& commands, const fs::path& dir, const std::string& environment,
                  const std::map<std::string, std::string>& values) {
  for (const json& command : commands) {
    std::string line = (binary_dir() / "ebs-flow").string();
    for (const auto& a : command["args"]) line += " " + sh_quoted(expanded(a.get<std::string>(), values));
    INFO("command: " << line);
    CommandResult c = run_command(environment + line, dir);
    INFO("output: " << c.out);
    INFO("stderr: " << c.err);
    CHECK(c.exit_code == command.value("exit_code", 0));
    if (command.contains("lines")) CHECK(count_lines(c.out) == command["lines"].get<size_t>());
    for (const auto& needle : command.value("contains", json::array()))
      CHECK_MESSAGE(c.out.find(needle.get<std::string>()) != std::string::npos, "missing " << needle);
  }
}

void check_validate_fixture(const fs::path& dir) {
  CommandResult r = run_command(environment() + (binary_dir() / "ebs-flow").string() + " validate workflow.yaml", dir);
  std::string expected = read_file(dir / "expected-validate.txt");
  CHECK_MESSAGE(r.exit_code == 1, "validate must fail");
  CHECK(r.err == expected);
}

#ifndef EBS_WITH_TORCH
// Built without libtorch (EBS_TORCH=OFF): a fixture that runs torch-score is refused at validate
// instead, saying why and how to get it.
bool runs_torch_score(const fs::path& dir) {
  return read_file(dir / "workflow.yaml").find("type: torch-score") != std::string::npos;
}

void check_refused_without_torch(const fs::path& dir) {
  CommandResult r = run_command(environment() + (binary_dir() / "ebs-flow").string() + " validate workflow.yaml", dir);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("this ebs-flow was built without it (EBS_TORCH=OFF): rebuild with -DEBS_TORCH=ON") !=
                    std::string::npos,
                r.err);
}
#endif

void check_run_fixture(const fs::path& dir) {
  json expected = json::parse(read_file(dir / "expected.json"));
  fs::path run_dir = fs::temp_directory_path() / ("ebs-fixture-" + dir.filename().string() + "-" + std::to_string(::getpid()));
  fs::remove_all(run_dir);
  fs::create_directories(run_dir);  // the commands before the run write into it
  std::map<std::string, std::string> values = {{"{run_dir}", run_dir.string()}, {"{data}", data_dir().string()}};
  std::string env = environment();
  std::optional<BinaryBroker> broker;
  if (expected.contains("broker")) {
    const json& spec = expected["broker"];
    broker.emplace((binary_dir() / "ebs-flow").string(), spec.value("partitions", 3),
                   spec.value("topics", std::vector<std::string>{}), fs::path(run_dir.string() + "-broker"));
    values["{brokers}"] = broker->servers;
    env += "EBS_KAFKA_BROKERS=" + sh_quoted(broker->servers) + " ";
  }
  const json expected_env = expected.value("env", json::object());
  for (const auto& [name, value] : expected_env.items())
    env += name + "=" + sh_quoted(expanded(value.get<std::string>(), values)) + " ";
  run_commands(expected.value("before", json::array()), dir, env, values);
  std::string args;
  const json expected_args = expected.value("args", json::array());
  for (const auto& a : expected_args) args += " '" + a.get<std::string>() + "'";
  const std::string workflow = expected.value("workflow", std::string("workflow.yaml"));
  CommandResult r = run_command(env + (binary_dir() / "ebs-flow").string() + " run '" + workflow +
                                    "' --quiet --run-dir '" + run_dir.string() +
                                    "' --summary-json '" + (run_dir / "summary.json").string() + "'" + args,
                                dir);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == expected.value("exit_code", 0));
  json summary = json::parse(read_file(run_dir / "summary.json"));
  CHECK(summary["accounting_ok"] == true);
  // Named locals: a range-for over items() of a temporary would dangle.
  const json expected_actors = expected.value("actors", json::object());
  const json expected_files = expected.value("files", json::object());
  for (const auto& item : expected_actors.items()) {
    const std::string& id = item.key();
    const auto& counters = item.value();  // clang 14 lambdas (INFO) cannot capture structured bindings
    const json* actor = nullptr;
    for (const json& a : summary["actors"])
      if (a["id"] == id) actor = &a;
    REQUIRE_MESSAGE(actor != nullptr, "no actor " << id << " in the summary");
    for (const auto& counter_value : counters.items()) {
      const std::string& counter = counter_value.key();
      const auto& value = counter_value.value();
      INFO(id << "." << counter);
      if (counter == "emitted")
        for (const auto& [port, n] : value.items()) CHECK((*actor)["emitted"][port] == n);
      else
        CHECK((*actor)[counter] == value);
    }
  }
  for (const auto& item : expected_files.items()) {
    const std::string& name = item.key();
    const auto& want = item.value();  // clang 14 lambdas (INFO) cannot capture structured bindings
    INFO("file " << name);
    REQUIRE(fs::exists(run_dir / name));
    std::string text = read_file(run_dir / name);
    if (want.contains("lines")) CHECK(count_lines(text) == want["lines"].get<size_t>());
    const json needles = want.value("contains", json::array());
    for (const auto& needle : needles)
      CHECK_MESSAGE(text.find(needle.get<std::string>()) != std::string::npos, "missing " << needle);
    if (want.contains("same_lines_as")) {
      const std::string other = want["same_lines_as"];
      CHECK_MESSAGE(sorted_lines(text) == sorted_lines(read_file(run_dir / other)), "the lines differ from " << other);
    }
  }
  run_commands(expected.value("commands", json::array()), dir, env, values);
  fs::remove_all(run_dir);
  if (broker) fs::remove_all(run_dir.string() + "-broker");
}

}  // namespace

TEST_CASE("workflow fixtures") {
  fs::path root = source_dir() / "test" / "fixtures";
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  REQUIRE(dirs.size() >= 5);
  for (const fs::path& dir : dirs) {
    SUBCASE(dir.filename().c_str()) {
#ifndef EBS_WITH_TORCH
      if (runs_torch_score(dir)) {
        check_refused_without_torch(dir);
        continue;
      }
#endif
      if (fs::exists(dir / "expected-validate.txt"))
        check_validate_fixture(dir);
      else
        check_run_fixture(dir);
    }
  }
}
