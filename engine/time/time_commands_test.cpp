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

TEST_CASE("time convert recognises a ZTF JD (>= 2,400,000, UTC) and says so") {
  // The jd of the first alert of the shared data's fink-20200101 set, as ZTF writes it.
  Run ztf = run({"time", "convert", "2458849.6385417"});
  REQUIRE(ztf.code == 0);
  auto json = nlohmann::json::parse(ztf.out);
  CHECK(json["read_as"].get<std::string>().find("JD (utc): a number >= 2,400,000 is read as a JD, as ZTF's jd") == 0);
  CHECK(json["jd_utc"].get<double>() == doctest::Approx(2458849.6385417).epsilon(1e-15));
  CHECK(json["iso_utc"].get<std::string>().rfind("2020-01-01T", 0) == 0);
  Run explicit_jd = run({"time", "convert", "2458849.6385417", "--jd"});
  CHECK(nlohmann::json::parse(explicit_jd.out)["read_as"] == "JD (utc)");
  CHECK(nlohmann::json::parse(explicit_jd.out)["mjd_tai"] == json["mjd_tai"]);
  CHECK(nlohmann::json::parse(run({"time", "convert", "58849.1385417"}).out)["read_as"] == "MJD (utc)");
}
