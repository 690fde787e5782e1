// Parses a filter expression into a syntax tree. Precedence, loosest first:
//   or (||)  <  and (&&)  <  not (!)  <  == != < <= > >=  <  + -  <  * / %  <  unary -  <  atoms
// Comparisons do not chain ("a < b < c" is an error). Atoms: numbers, 'text' or "text", true,
// false, null, field paths, function calls name(args...), parenthesised expressions.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expr/compile_error.h"

namespace ebs::expr {

enum class Operator {
  negate,       // unary -
  logical_not,  // unary not
  add,
  subtract,
  multiply,
  divide,
  modulo,
  equal,
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  logical_and,
  logical_or,
};

std::string_view spelling(Operator op);  // "+", "==", "and", ...
bool is_comparison(Operator op);
bool is_arithmetic(Operator op);  // binary + - * / %

struct Node {
  enum class Kind {
    null_literal,
    bool_literal,
    number_literal,
    text_literal,
    field,
    unary,
    binary,
    call,
  };
  Kind kind = Kind::null_literal;
  size_t column = 1;  // of the operator, the function or field name, or the literal
  size_t start = 1;   // where the whole subexpression starts
  int height = 1;     // of the subtree; bounded so that the recursive passes stay shallow
  bool boolean = false;
  double number = 0;
  std::string name;  // field path, function name, or the text literal's contents
  Operator op = Operator::add;
  std::vector<std::unique_ptr<Node>> children;  // operands or call arguments
};

struct ParseResult {
  std::unique_ptr<Node> root;  // null when there are errors
  std::vector<CompileError> errors;
};

// Lexical errors are all reported; parsing stops at the first syntax error.
ParseResult parse(std::string_view source);

}  // namespace ebs::expr
