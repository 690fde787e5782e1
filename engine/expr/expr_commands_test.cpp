#include "engine/expr/expr_commands.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include "test/support/command_runner.h"

namespace {

using Run = ebs::test::CommandRun;

// Runs `ebs-flow <args>` in process with the given stdin.
Run run(std::vector<std::string> args, const std::string& input = "") {
  return ebs::test::run_command(ebs::register_expr_commands, std::move(args), input);
}

}  // namespace

TEST_CASE("expr check lists fields and bytecode") {
  Run result = run(
      {"expr", "check", "candidate.drb > 0.8 and not exists(candidate.ssnamenr)", "--bytecode"});
  CHECK(result.code == 0);
  auto json = nlohmann::json::parse(result.out);
  CHECK(json["fields"] == nlohmann::json{"candidate.drb", "candidate.ssnamenr"});
  CHECK(json["bytecode"][0] == "0 field_greater_number candidate.drb 0.8");
}

TEST_CASE("expr check reports every error with its column") {
  Run result = run({"expr", "check", "lg10(x) > 1 and 'a' == 2"});
  CHECK(result.code == 1);
  CHECK(result.out.empty());
  CHECK(result.err.find("expression:1: unknown function 'lg10' (did you mean 'log10'?)\n") == 0);
  CHECK(result.err.find("expression:21: cannot compare text with a number using '=='") !=
        std::string::npos);
  CHECK(result.err.find("  lg10(x) > 1 and 'a' == 2\n                      ^") !=
        std::string::npos);
}

TEST_CASE("expr eval reads JSON lines") {
  std::string input =
      R"({"candidate": {"drb": 0.9, "magpsf": 18.2}, "prv_candidates": [{"jd": 1}]})"
      "\n"
      R"({"candidate": {"drb": 0.5, "magpsf": 18.2}})"
      "\n"
      "\n"
      R"({"candidate": {"magpsf": 18.2}})"
      "\n"
      "not json\n";
  Run result = run({"expr", "eval", "candidate.drb > 0.8 and candidate.magpsf < 19"}, input);
  CHECK(result.code == 1);  // the bad row
  CHECK(result.err == "stdin:row 5: not a JSON document\n");
  CHECK(result.out ==
        "{\"passes\":true,\"result\":true,\"row\":1}\n"
        "{\"passes\":false,\"result\":false,\"row\":2}\n"
        "{\"passes\":false,\"result\":null,\"row\":4}\n");
  Run indexed = run({"expr", "eval", "prv_candidates.0.jd + 1"}, input.substr(0, input.find('\n')));
  CHECK(indexed.out == "{\"passes\":false,\"result\":2.0,\"row\":1}\n");
}
