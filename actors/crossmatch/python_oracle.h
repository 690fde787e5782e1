// Test helper: runs an independent oracle script with Debian's /usr/bin/python3 (astropy, healpy,
// avro installed by tools/install-deps.sh --with-tests) and returns its stdout. A missing oracle
// fails the test rather than skipping it.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace ebs::catalog::testing {

inline std::string run_python_oracle(const std::string& script) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("ebs_catalog_oracle_" + std::to_string(::getpid()) + ".py");
  {
    std::ofstream out(file);
    out << script;
  }
  const std::string command = "/usr/bin/python3 " + file.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot start /usr/bin/python3");
  std::string output;
  std::array<char, 65536> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  std::filesystem::remove(file);
  if (status != 0) throw std::runtime_error("python oracle failed: " + output);
  return output;
}

}  // namespace ebs::catalog::testing
