// A problem found while compiling a filter expression, for the user who wrote it.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::expr {

struct CompileError {
  size_t column = 1;  // 1-based byte offset in the expression text (newlines count as one)
  std::string message;

  friend bool operator==(const CompileError&, const CompileError&) = default;
};

// "column 7: unexpected ')'" (for logs and test output).
std::ostream& operator<<(std::ostream& out, const CompileError& error);

// "column 7: unexpected ')'" followed by the line of the expression and a caret under the column,
// one block per error; for CLIs and workflow validation messages.
std::string describe(std::string_view text, const std::vector<CompileError>& errors);

}  // namespace ebs::expr
