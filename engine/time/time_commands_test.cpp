#include "engine/time/time_commands.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include "test/support/command_runner.h"

namespace {

using Run = ebs::test::CommandRun;

Run run(std::vector<std::string> args) {
  return ebs::test::run_command(ebs::register_time_commands, std::move(args));
}

}  // namespace

TEST_CASE("time convert: the MS220722v instant in each of its forms") {
  for (auto args : std::vector<std::vector<std::string>>{
           {"time", "convert", "2022-07-22T21:57:12.384Z"},
           {"time", "convert", "59782.914726666667"},
           {"time", "convert", "2459783.414726666667", "--jd"},
           {"time", "convert", "1342562250.384", "--gps-seconds"},
           {"time", "convert", "59782.915154907407", "--scale", "tai"}}) {
    CAPTURE(args[2]);
    Run result = run(args);
    REQUIRE(result.code == 0);
    auto json = nlohmann::json::parse(result.out);
    CHECK(json["iso_utc"] == "2022-07-22T21:57:12.384Z");
    CHECK(std::abs(json["mjd_tai"].get<double>() - 59782.915154907407) < 2e-9);
    CHECK(std::abs(json["gps_seconds"].get<double>() - 1342562250.384) < 2e-4);
    CHECK(json["tai_minus_utc_seconds"] == 37.0);
  }
}

TEST_CASE("time convert refuses bad input") {
  Run result = run({"time", "convert", "2022-13-01"});
  CHECK(result.code == 1);
  CHECK(result.err.find("time convert: bad ISO 8601 UTC time '2022-13-01'") == 0);
  CHECK(run({"time", "convert", "60000", "--scale", "tcb"}).code == 1);
  CHECK(run({"time", "convert", "soon", "--jd"}).code == 1);
}
