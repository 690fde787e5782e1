// Test helper: runs an independent oracle script with Debian's /usr/bin/python3 (numpy, xgboost,
// avro installed by tools/install-deps.sh) and returns its stdout. A missing oracle fails the
// test rather than skipping it.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace ebs::ml::testing {

inline std::string run_python_oracle(const std::string& script) {
  static int counter = 0;
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("ebs_ml_oracle_" + std::to_string(::getpid()) + "_" +
                                      std::to_string(counter++) + ".py");
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

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("ebs_ml_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ebs::ml::testing
