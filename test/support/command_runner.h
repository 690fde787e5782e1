// Runs an `ebs-flow` subcommand in process, dispatched as main() dispatches it, with stdin given
// and stdout/stderr captured: the one way the command tests of every module call their commands.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cli/command_registry.h"

namespace ebs::test {

struct CommandRun {
  int code = -1;
  std::string out, err;
};

// `register_commands` fills a fresh CommandRegistry (e.g. ebs::register_time_commands); `args` are
// the words after `ebs-flow`.
inline CommandRun run_command(const std::function<void(CommandRegistry&)>& register_commands,
                              std::vector<std::string> args, const std::string& input = "") {
  CommandRegistry registry;
  register_commands(registry);
  args.insert(args.begin(), "ebs-flow");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  std::istringstream in(input);
  std::ostringstream out, err;
  auto* old_in = std::cin.rdbuf(in.rdbuf());
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  CLI::App app{"test", "ebs-flow"};
  int code = registry.dispatch(app, static_cast<int>(argv.size()), argv.data());
  std::cin.rdbuf(old_in);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {code, out.str(), err.str()};
}

// A command's JSON-lines output, one value per line.
inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> values;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) values.push_back(nlohmann::json::parse(line));
  }
  return values;
}

}  // namespace ebs::test
