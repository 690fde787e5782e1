#include "actors/coincidence/skymap_command.h"

#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

namespace {

struct Captured {
  int code;
  std::string out, err;
};

Captured run(std::vector<std::string> words) {
  ebs::CommandRegistry registry;
  ebs::register_skymap_commands(registry);
  CLI::App app("ebs-flow");
  std::vector<char*> argv;
  words.insert(words.begin(), "ebs-flow");
  for (auto& word : words) argv.push_back(word.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  int code = registry.dispatch(app, static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {code, out.str(), err.str()};
}

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("skymap info prints a JSON summary of a FITS map or a notice") {
  auto fits = (ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string();
  auto result = run({"skymap", "info", fits});
  REQUIRE(result.code == 0);
  auto info = lines(result.out);
  REQUIRE(info.size() == 1);
  CHECK(info[0]["ordering"] == "NUNIQ");
  CHECK(info[0]["rows"] == 19200);
  CHECK(info[0]["min_order"] == 4);
  CHECK(info[0]["max_order"] == 9);
  CHECK(info[0]["integral"].get<double>() == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(info[0]["area_90"].get<double>() > info[0]["area_50"].get<double>());
  CHECK(info[0]["header"]["OBJECT"] == "M252714");
  CHECK(info[0]["distance_mean"].get<double>() == doctest::Approx(125.9587664681809));

  auto notice = (ebs::test::data_dir() / "gcn" / "lvk-fink-mm" / "MS230518e-mock-MDC.json").string();
  auto from_notice = run({"skymap", "info", notice});
  REQUIRE(from_notice.code == 0);
  CHECK(lines(from_notice.out)[0]["max_order"] == 11);
}

TEST_CASE("skymap at prints one JSON line per position") {
  auto fits = (ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string();
  auto result = run({"skymap", "at", fits, "10", "20", "359.5", "-45.25", "0", "90"});
  REQUIRE(result.code == 0);
  auto hits = lines(result.out);
  REQUIRE(hits.size() == 3);
  CHECK(hits[1]["ra"] == 359.5);
  CHECK(hits[1]["dec"] == -45.25);
  for (const auto& hit : hits) {
    CHECK(hit["searched_prob"].get<double>() <= 1.0 + 1e-9);
    CHECK(hit.contains("distmu"));
    CHECK(hit.contains("distnorm"));
  }

  auto odd = run({"skymap", "at", fits, "10"});
  CHECK(odd.code == 2);
  auto bad = run({"skymap", "at", "/nonexistent.fits", "10", "20"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("/nonexistent.fits") != std::string::npos);
  auto outside = run({"skymap", "at", fits, "10", "95"});
  CHECK(outside.code == 1);
}

TEST_CASE("skymap info: the peak position, 50/90 % areas and distance mean ± sigma, as healpy finds them") {
  auto fits = (ebs::test::data_dir() / "skymaps" / "MS220722v_bayestar.multiorder.fits").string();
  auto result = run({"skymap", "info", fits});
  REQUIRE(result.code == 0);
  const auto info = lines(result.out)[0];
  // The centre of the densest pixel, as healpy's pix2ang gives it.
  const std::string printed = ebs::test::run_python_oracle(R"PY(
import sys, json
import numpy as np, healpy as hp
from astropy.table import Table
t = Table.read(sys.argv[1])
i = int(np.argmax(t['PROBDENSITY']))
uniq = int(t['UNIQ'][i])
order = (uniq.bit_length() - 1) // 2 - 1
ipix = uniq - 4 * 4 ** order
ra, dec = hp.pix2ang(2 ** order, ipix, nest=True, lonlat=True)
print(json.dumps({'ra': float(ra), 'dec': float(dec)}))
)PY",
                                                             {fits});
  const auto oracle = nlohmann::json::parse(printed.substr(printed.rfind("{\"ra\"")));  // after any warning
  CHECK(info["peak_ra"].get<double>() == doctest::Approx(oracle["ra"].get<double>()).epsilon(1e-12));
  CHECK(info["peak_dec"].get<double>() == doctest::Approx(oracle["dec"].get<double>()).epsilon(1e-12));
  CHECK(info["area_50"].get<double>() > 0);
  char expected[64];
  std::snprintf(expected, sizeof expected, "%.2f ± %.2f Mpc", info["distance_mean"].get<double>(),
                info["distance_std"].get<double>());
  CHECK(info["distance"] == expected);
  // A map without distance layers says so.
  auto small = run({"skymap", "info", (ebs::test::data_dir() / "skymaps" / "rrt_small_area.fits").string()});
  REQUIRE(small.code == 0);
  CHECK(lines(small.out)[0]["distance"].is_null());
}
