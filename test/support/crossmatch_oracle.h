// Test helper: the project's python oracle runner (test/support/python_oracle.h) for the catalogue tests.
#pragma once

#include "test/support/python_oracle.h"

namespace ebs::crossmatch::testing {
using ebs::test::run_python_oracle;
}  // namespace ebs::crossmatch::testing
