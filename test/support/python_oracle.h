// Runs an independent oracle script with Debian's /usr/bin/python3 (numpy, astropy, healpy, avro,
// xgboost: installed by tools/install-deps.sh --with-tests) and returns its stdout. A missing
// oracle fails the test rather than skipping it: a test that cannot fail proves nothing.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/util/fault.h"

namespace ebs::test {

inline std::string run_python_oracle(const std::string& script, const std::vector<std::string>& args = {}) {
  static int counter = 0;  // several oracles in one test binary each get a file of their own
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("ebs_oracle_" + std::to_string(::getpid()) + "_" +
                                      std::to_string(counter++) + ".py");
  {
    std::ofstream out(file);
    out << script;
  }
  std::string command = "/usr/bin/python3 '" + file.string() + "'";
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) ebs::fail("oracle", "cannot run /usr/bin/python3");
  std::string output;
  std::array<char, 65536> buffer;
  for (size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  std::filesystem::remove(file);
  if (status != 0) ebs::fail("oracle", "python oracle failed: " + output);
  return output;
}

}  // namespace ebs::test
