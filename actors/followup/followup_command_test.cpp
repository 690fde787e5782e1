#include "actors/followup/followup_command.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/skymap_oracle.h"
#include "test/support/command_runner.h"
#include "test/support/test_data.h"

namespace fs = std::filesystem;

namespace {

std::string map_path() { return (ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string(); }

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

ebs::test::CommandRun run(std::vector<std::string> args) { return ebs::test::run_command(ebs::register_followup_commands, args); }

}  // namespace

TEST_CASE("ebs-flow skymap galaxies / moc / coverage / hpx / h0 and followup lightcurve on the command line") {
  const fs::path dir = ebs::test::scratch_dir("followup-commands");
  ::setenv("EBS_DATA", ebs::test::data_dir().c_str(), 1);
  const std::string catalogue = (ebs::test::source_dir() / "catalogs" / "glade-gwemopt-S190814bv.yaml").string();

  SUBCASE("galaxies") {
    auto r = run({"skymap", "galaxies", map_path(), catalogue, "--top", "5", "--cache-dir", (dir / "cache").string()});
    REQUIRE(r.code == 0);
    auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 6);
    CHECK(lines[0]["rank"] == 1);
    CHECK(lines[5]["summary"]["galaxies"] == 2000);
    auto cumulative = run({"skymap", "galaxies", map_path(), catalogue, "--top", "0", "--cumulative", "0.5",
                           "--cache-dir", (dir / "cache").string()});
    auto all = json_lines(cumulative.out);
    CHECK(all[all.size() - 2]["cumulative_probability"].get<double>() >= 0.5);
    CHECK(all[all.size() - 3]["cumulative_probability"].get<double>() < 0.5);
    auto wrong_band = run({"skymap", "galaxies", map_path(), catalogue, "--weight", "K", "--cache-dir", (dir / "cache").string()});
    CHECK(wrong_band.code == 1);
    CHECK(wrong_band.err.find("band 'B', not K") != std::string::npos);
  }
  SUBCASE("moc") {
    auto r = run({"skymap", "moc", map_path(), "--levels", "0.9", "--out", (dir / "ms").string()});
    REQUIRE(r.code == 0);
    auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 1);
    CHECK(fs::exists(dir / "ms-90.moc.fits"));
    CHECK(fs::exists(dir / "ms-90.moc.json"));
    CHECK(run({"skymap", "moc", map_path(), "--levels", "0.9,2"}).err.find("'2' is not a credible level") != std::string::npos);
  }
  SUBCASE("coverage") {
    ebs::test::write_text(dir / "plan.yaml", "footprints: {c: {radius: 3}}\npointings:\n"
                                             "  - {ra: 98.35, dec: -27.45, time: \"2022-07-23T03:00:00\", footprint: c}\n");
    ebs::test::write_text(dir / "alerts.jsonl",
                          "{\"type\":\"Alert\",\"ra\":98.35,\"dec\":-27.45,\"mjd_tai\":59783.2}\n"
                          "{\"type\":\"SkyEvent\",\"event_id\":\"x\"}\n");
    auto r = run({"skymap", "coverage", map_path(), (dir / "plan.yaml").string(), "--alerts", (dir / "alerts.jsonl").string()});
    REQUIRE(r.code == 0);
    auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["night"] == "2022-07-22");
    CHECK(lines[0]["alerts"] == 1);
    CHECK(lines[0]["alerts_in_90"] == 1);
    ebs::test::write_text(dir / "bad.jsonl", "{\"type\":\"Alert\",\"ra\":1}\n");
    auto bad = run({"skymap", "coverage", map_path(), (dir / "plan.yaml").string(), "--alerts", (dir / "bad.jsonl").string()});
    CHECK(bad.code == 1);
    CHECK(bad.err.find("bad.jsonl:1") != std::string::npos);
  }
  SUBCASE("hpx, h0, lightcurve") {
    CHECK(run({"skymap", "hpx", map_path(), (dir / "m.fits").string(), "--order", "5"}).code == 0);
    CHECK(fs::exists(dir / "m.fits"));
    auto h0 = run({"skymap", "h0", map_path(), "--ra", "98.35", "--dec", "-27.45", "--z", "0.02", "--grid"});
    REQUIRE(h0.code == 0);
    auto line = json_lines(h0.out).at(0);
    CHECK(line["h0"].size() == 1301);
    CHECK(line["h0_median"].get<double>() > 20);
    auto lc = run({"followup", "lightcurve", (ebs::test::data_dir() / "atlas" / "forced-phot-ZTFrlh6cyjh-skyportal.csv").string(),
                   (dir / "lc.fits").string()});
    REQUIRE(lc.code == 0);
    CHECK(json_lines(lc.out).at(0)["time_bins"] == 384);
    auto missing = run({"followup", "lightcurve", (ebs::test::data_dir() / "catalogs" / "clu-mini.csv").string(),
                        (dir / "x.fits").string()});
    CHECK(missing.code == 1);
    CHECK(missing.err.find("no column 'mjd'") != std::string::npos);
  }
}
