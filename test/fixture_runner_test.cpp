// Runs every workflow fixture in test/fixtures through the ebs-flow binary:
//   expected-validate.txt  the exact problems `ebs-flow validate` prints (and exit code 1)
//   expected.json          {"args": [...], "exit_code": 0, "actors": {id: {counter: n}},
//                           "files": {path: {"lines": n, "contains": [text, ...]}},
//                           "workflow": "../../../workflows/x.yaml"   (instead of workflow.yaml: a
//                                       ready workflow of workflows/, e.g. a tutorial's),
//                           "commands": [{"args": ["query", "{run_dir}/x.db", ...], "exit_code": 0,
//                                         "lines": n, "contains": [text, ...]}]}   (run after the
//                                       workflow, as a tutorial tells its reader to)
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

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

void check_validate_fixture(const fs::path& dir) {
  CommandResult r = run_command(environment() + (binary_dir() / "ebs-flow").string() + " validate workflow.yaml", dir);
  std::string expected = read_file(dir / "expected-validate.txt");
  CHECK_MESSAGE(r.exit_code == 1, "validate must fail");
  CHECK(r.err == expected);
}

void check_run_fixture(const fs::path& dir) {
  json expected = json::parse(read_file(dir / "expected.json"));
  fs::path run_dir = fs::temp_directory_path() / ("ebs-fixture-" + dir.filename().string() + "-" + std::to_string(::getpid()));
  fs::remove_all(run_dir);
  std::string args;
  const json expected_args = expected.value("args", json::array());
  for (const auto& a : expected_args) args += " '" + a.get<std::string>() + "'";
  const std::string workflow = expected.value("workflow", std::string("workflow.yaml"));
  CommandResult r = run_command(environment() + (binary_dir() / "ebs-flow").string() + " run '" + workflow +
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
  for (const auto& [id, counters] : expected_actors.items()) {
    const json* actor = nullptr;
    for (const json& a : summary["actors"])
      if (a["id"] == id) actor = &a;
    REQUIRE_MESSAGE(actor != nullptr, "no actor " << id << " in the summary");
    for (const auto& [counter, value] : counters.items()) {
      INFO(id << "." << counter);
      if (counter == "emitted")
        for (const auto& [port, n] : value.items()) CHECK((*actor)["emitted"][port] == n);
      else
        CHECK((*actor)[counter] == value);
    }
  }
  for (const auto& [name, want] : expected_files.items()) {
    INFO("file " << name);
    REQUIRE(fs::exists(run_dir / name));
    std::string text = read_file(run_dir / name);
    if (want.contains("lines")) CHECK(count_lines(text) == want["lines"].get<size_t>());
    const json needles = want.value("contains", json::array());
    for (const auto& needle : needles)
      CHECK_MESSAGE(text.find(needle.get<std::string>()) != std::string::npos, "missing " << needle);
  }
  const json commands = expected.value("commands", json::array());
  for (const json& command : commands) {
    std::string line = (binary_dir() / "ebs-flow").string();
    for (const auto& a : command["args"]) {
      std::string arg = a.get<std::string>();
      for (size_t at; (at = arg.find("{run_dir}")) != std::string::npos;) arg.replace(at, 9, run_dir.string());
      std::string quoted;  // for /bin/sh: inside '...', a ' is written '\''
      for (char ch : arg) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      line += " '" + quoted + "'";
    }
    INFO("command: " << line);
    CommandResult c = run_command(environment() + line, dir);
    INFO("output: " << c.out);
    CHECK(c.exit_code == command.value("exit_code", 0));
    if (command.contains("lines")) CHECK(count_lines(c.out) == command["lines"].get<size_t>());
    for (const auto& needle : command.value("contains", json::array()))
      CHECK_MESSAGE(c.out.find(needle.get<std::string>()) != std::string::npos, "missing " << needle);
  }
  fs::remove_all(run_dir);
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
      if (fs::exists(dir / "expected-validate.txt"))
        check_validate_fixture(dir);
      else
        check_run_fixture(dir);
    }
  }
}
