// Runs `ebs-flow model ...` commands in-process for tests: stdout and stderr captured, stdout
// read back as JSON lines.
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "actors/ml/model_commands.h"

namespace ebs::ml::testing {

struct CommandOutput {
  int exit_code;
  std::string out, err;
  std::vector<nlohmann::json> lines() const {
    std::vector<nlohmann::json> out_lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) out_lines.push_back(nlohmann::json::parse(line));
    return out_lines;
  }
};

inline CommandOutput run_model_command(std::vector<std::string> args) {
  ebs::CommandRegistry registry;
  register_model_commands(registry);
  args.insert(args.begin(), "ebs-flow");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  CLI::App app{"test"};
  int code = registry.dispatch(app, static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {code, out.str(), err.str()};
}

}  // namespace ebs::ml::testing
