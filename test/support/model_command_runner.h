// Runs `ebs-flow model ...` commands in-process for tests (through test/support/command_runner.h), with
// stdout read back as JSON lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/ml/model_commands.h"
#include "test/support/command_runner.h"

namespace ebs::ml::testing {

struct CommandOutput {
  int exit_code;
  std::string out, err;
  std::vector<nlohmann::json> lines() const { return ebs::test::json_lines(out); }
};

inline CommandOutput run_model_command(std::vector<std::string> args) {
  ebs::test::CommandRun run = ebs::test::run_command(register_model_commands, std::move(args));
  return {run.code, std::move(run.out), std::move(run.err)};
}

}  // namespace ebs::ml::testing
