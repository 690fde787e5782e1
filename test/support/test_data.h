// Where tests find ../shared/data: $EBS_TEST_DATA, else the path configured at build time; and
// the source and build folders (test/support/test_data.cpp, the one file that knows them).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ebs::test {

std::filesystem::path configured_data_dir();
std::filesystem::path source_dir();
std::filesystem::path binary_dir();

inline std::filesystem::path data_dir() {
  if (const char* env = std::getenv("EBS_TEST_DATA"); env && *env) return env;
  return configured_data_dir();
}

}  // namespace ebs::test
