#include "actors/crossmatch/catalog_command.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "engine/cli/command_registry.h"
#include "engine/util/fault.h"
#include "test/support/test_data.h"
#include "test/support/command_runner.h"

namespace {

using Run = ebs::test::CommandRun;
using ebs::test::json_lines;

Run run(std::vector<std::string> args) {
  return ebs::test::run_command(ebs::register_catalog_commands, std::move(args));
}

std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ebs_cmd_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_CASE("catalog build, info and cone on the Gaia sample") {
  if (!getenv("EBS_DATA")) setenv("EBS_DATA", ebs::test::data_dir().c_str(), 1);
  const std::string config = (ebs::test::source_dir() / "catalogs" / "gaia-dr3-1000.yaml").string();
  const std::string out = temp("gaia.ebscat");

  const Run build = run({"catalog", "build", config, "-o", out});
  REQUIRE(build.code == 0);
  const auto built = json_lines(build.out);
  REQUIRE(built.size() == 1);
  CHECK(built[0]["rows"] == 1000);
  CHECK(built[0]["catalog"] == "gaia-dr3-1000");

  const Run info = run({"catalog", "info", out});
  REQUIRE(info.code == 0);
  const auto described = json_lines(info.out).at(0);
  CHECK(described["rows"] == 1000);
  CHECK(described["epoch"] == "J2016.0");
  CHECK(described["epoch_mjd"] == 57388.5);
  CHECK(described["columns"]["pmra"] == "pmra [mas/yr]");
  CHECK(described["columns"]["magnitude"] == "phot_g_mean_mag [mag G]");
  CHECK(described["content_hash"].get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(described["bytes_per_source"].get<double>() > 24);

  // Around the first Gaia star: itself at 0", then neighbours (if any) further out.
  const Run cone = run({"catalog", "cone", out, "286.7169128963743", "0.27619460064099405", "36000"});
  REQUIRE(cone.code == 0);
  const auto lines = json_lines(cone.out);
  REQUIRE(lines.size() >= 1);
  CHECK(lines[0]["id"] == "4267180339403392768");
  CHECK(lines[0]["sep_arcsec"].get<double>() < 1e-9);
  CHECK(lines[0]["extra"]["designation"] == "Gaia DR3 4267180339403392768");
  for (size_t i = 1; i < lines.size(); ++i) CHECK(lines[i]["sep_arcsec"] >= lines[i - 1]["sep_arcsec"]);

  // Thirty years later the star has moved (2.5, -4.1 mas/yr): still found, no longer at 0".
  const Run later = run({"catalog", "cone", out, "286.7169128963743", "0.27619460064099405", "1", "--epoch-mjd",
                         std::to_string(57388.5 + 30 * 365.25), "--limit", "1"});
  REQUIRE(later.code == 0);
  const auto moved = json_lines(later.out);
  REQUIRE(moved.size() == 1);
  CHECK(moved[0]["sep_arcsec"].get<double>() == doctest::Approx(30 * std::hypot(2.5490278100064536, 4.07554382915321) / 1000).epsilon(1e-6));

  // Sexagesimal and negative declinations on the command line.
  const Run sexagesimal = run({"catalog", "cone", out, "19:06:52.059", "-00:00:00.1", "3600"});
  CHECK(sexagesimal.code == 0);

  std::filesystem::remove(out);
}

TEST_CASE("catalog commands report problems on stderr with their place") {
  const std::string bad_csv = temp("bad.csv"), bad_yaml = temp("bad.yaml"), out = temp("bad.ebscat");
  std::ofstream(bad_csv) << "ra,dec\n1,2\n400,3\n4,5\n";
  std::ofstream(bad_yaml) << "name: bad\nfile: " << bad_csv << "\nformat: csv\ncolumns: {ra: ra, dec: dec}\n";

  const Run failed = run({"catalog", "build", bad_yaml, "-o", out});
  CHECK(failed.code == 1);
  CHECK(failed.err.find(bad_csv + ":row 2 (line 3):column ra: RA 400 deg is outside [0, 360)") != std::string::npos);

  const Run skipped = run({"catalog", "build", bad_yaml, "-o", out, "--skip-bad-rows"});
  CHECK(skipped.code == 0);
  CHECK(skipped.err.find("skipped 1 bad row") != std::string::npos);
  CHECK(json_lines(skipped.out).at(0)["rows"] == 2);

  CHECK(run({"catalog", "info", "/nonexistent.ebscat"}).code == 1);
  CHECK(run({"catalog", "cone", out, "1", "2"}).code == 2);  // radius missing: usage
  const Run bad_ra = run({"catalog", "cone", out, "361", "2", "5"});
  CHECK(bad_ra.code == 1);
  CHECK(bad_ra.err.find("RA: '361' is outside") != std::string::npos);
  for (const auto& f : {bad_csv, bad_yaml, out}) std::filesystem::remove(f);
}
