// The paths configured at build time, in one translation unit: every other test file is then
// the same text in every checkout, so ccache finds it when CI builds a fresh clone elsewhere.
#include "test/support/test_data.h"

namespace ebs::test {

std::filesystem::path configured_data_dir() { return EBS_DEFAULT_TEST_DATA; }
std::filesystem::path source_dir() { return EBS_SOURCE_DIR; }
std::filesystem::path binary_dir() { return EBS_BINARY_DIR; }

}  // namespace ebs::test
