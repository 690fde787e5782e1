// Test helper: runs an independent oracle written in Python with Debian's /usr/bin/python3
// (numpy, astropy, healpy) and returns its standard output. Never used by the product; a missing
// oracle fails the test (tools/install-deps.sh --with-tests installs it).
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/util/fault.h"
#include "test/support/python_oracle.h"
#include "test/support/test_data.h"

namespace ebs::test {

// Scratch files live in the build tree (overwritten by the next run, never piling up in /tmp).
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = ebs::test::binary_dir() / "test-scratch" / ("skymap-" + name);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Runs `script` (Python source) with `args`; a non-zero exit is a fault carrying its output.

// Splits the oracle's whitespace-separated numbers (Python repr: "inf", "nan" parse with strtod).
inline std::vector<std::vector<double>> parse_rows(const std::string& text) {
  std::vector<std::vector<double>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::istringstream words(line);
    std::vector<double> row;
    for (std::string word; words >> word;) row.push_back(std::strtod(word.c_str(), nullptr));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace ebs::test
