#include "engine/expr/compile_error.h"

#include <algorithm>
#include <ostream>

namespace ebs::expr {

std::ostream& operator<<(std::ostream& out, const CompileError& error) {
  return out << "column " << error.column << ": " << error.message;
}

std::string describe(std::string_view text, const std::vector<CompileError>& errors) {
  std::string out;
  for (const auto& error : errors) {
    if (!out.empty()) out += "\n";
    out += "column " + std::to_string(error.column) + ": " + error.message + "\n";
    // The line holding the column, with a caret under it.
    size_t offset = std::min(error.column == 0 ? 0 : error.column - 1, text.size());
    size_t line_start = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    size_t line_end = std::min(text.find('\n', offset), text.size());
    out += "  " + std::string(text.substr(line_start, line_end - line_start)) + "\n  ";
    for (size_t i = line_start; i < offset; ++i) out += text[i] == '\t' ? '\t' : ' ';
    out += "^";
  }
  return out;
}

}  // namespace ebs::expr
