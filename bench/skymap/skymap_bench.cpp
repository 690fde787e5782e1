// Sky map benchmark: time to load the order-11 multi-order map embedded (base64) in the mock LVK
// notice MS230518e (target < 50 ms), and positions looked up per second with the precomputed
// index (target >= 5 million per core) next to a naive linear scan of the pixels in the same run.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/util/base64.h"
#include "actors/common/skymap/skymap.h"

using namespace ebs::skymap;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("EBS_TEST_DATA"); env && *env) return env;
  return EBS_DEFAULT_TEST_DATA;
}

struct Position {
  double ra, dec;
};

std::vector<Position> random_positions(std::size_t n) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<Position> out(n);
  for (auto& p : out) p = {360 * unit(random), std::asin(2 * unit(random) - 1) * 180 / M_PI};
  return out;
}

}  // namespace

int main() {
  auto path = data_dir() / "gcn" / "lvk-fink-mm" / "MS230518e-mock-MDC.json";
  auto bytes = read_file_bytes(path.string());
  std::string text(bytes.begin(), bytes.end());

  // Best of several runs: the machine is shared and noisy.
  double best_parse = 1e9, best_decode = 1e9, best_load = 1e9;
  std::size_t rows = 0;
  int max_order = 0;
  for (int run = 0; run < 7; ++run) {
    auto start = Clock::now();
    auto notice = nlohmann::json::parse(text);
    best_parse = std::min(best_parse, seconds_since(start));
    start = Clock::now();
    std::string fits = ebs::base64_decode(notice["event"]["skymap"].get_ref<const std::string&>(), "bench");
    best_decode = std::min(best_decode, seconds_since(start));
    start = Clock::now();
    Skymap map = Skymap::from_bytes(std::string_view(fits), "bench");
    best_load = std::min(best_load, seconds_since(start));
    rows = map.rows();
    max_order = map.max_order();
  }
  auto notice = nlohmann::json::parse(text);
  std::string fits = ebs::base64_decode(notice["event"]["skymap"].get_ref<const std::string&>(), "bench");
  Skymap map = Skymap::from_bytes(std::string_view(fits), "bench");

  std::cout << "map: MS230518e-mock-MDC.json, " << rows << " rows, max order " << max_order << "\n";
  std::cout << "load: JSON parse " << best_parse * 1e3 << " ms, base64 decode " << best_decode * 1e3
            << " ms, FITS read + index " << best_load * 1e3 << " ms; decode + load "
            << (best_decode + best_load) * 1e3 << " ms (target < 50 ms)\n";

  auto positions = random_positions(2'000'000);
  double checksum = 0, best_indexed = 1e9;
  for (int run = 0; run < 3; ++run) {
    auto start = Clock::now();
    for (const auto& p : positions) checksum += map.at(p.ra, p.dec).searched_prob;
    best_indexed = std::min(best_indexed, seconds_since(start));
  }
  double indexed_rate = positions.size() / best_indexed;

  std::size_t scanned = 2000;
  auto start = Clock::now();
  for (std::size_t i = 0; i < scanned; ++i) checksum += map.at_by_linear_scan(positions[i].ra, positions[i].dec).searched_prob;
  double scan_rate = scanned / seconds_since(start);

  std::cout << "lookups (one core): indexed " << indexed_rate / 1e6 << " M/s (target >= 5 M/s), "
            << "linear scan " << scan_rate / 1e3 << " k/s; indexed / scan = " << indexed_rate / scan_rate << "x\n";
  std::cout << "(checksum " << checksum << ")\n";
  return 0;
}
