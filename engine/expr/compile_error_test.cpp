#include "engine/expr/compile_error.h"

#include <doctest/doctest.h>

#include <sstream>

using namespace ebs::expr;

TEST_CASE("describe shows each error under its line") {
  CHECK(describe("a > 1)", {{6, "unexpected ')'"}}) ==
        "column 6: unexpected ')'\n"
        "  a > 1)\n"
        "       ^");
  CHECK(describe("x >\n  lg10(y)", {{7, "unknown function 'lg10'"}, {1, "first"}}) ==
        "column 7: unknown function 'lg10'\n"
        "    lg10(y)\n"
        "    ^\n"
        "column 1: first\n"
        "  x >\n"
        "  ^");
  CHECK(describe("(a", {{3, "missing ')'"}}) ==
        "column 3: missing ')'\n"
        "  (a\n"
        "    ^");
  std::ostringstream out;
  out << CompileError{4, "bad"};
  CHECK(out.str() == "column 4: bad");
}
