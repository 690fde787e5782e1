// Where tests find ../shared/data: $EBS_TEST_DATA, else the path configured at build time.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ebs::test {

inline std::filesystem::path data_dir() {
  if (const char* env = std::getenv("EBS_TEST_DATA"); env && *env) return env;
  return EBS_DEFAULT_TEST_DATA;
}

inline std::filesystem::path source_dir() { return EBS_SOURCE_DIR; }
inline std::filesystem::path binary_dir() { return EBS_BINARY_DIR; }

}  // namespace ebs::test
