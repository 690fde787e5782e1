// Splits a filter expression into tokens. Lexical problems (stray characters, unterminated
// strings, malformed numbers) are collected, not thrown, so that all of them can be reported.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/expr/compile_error.h"

namespace ebs::expr {

enum class TokenKind {
  number,
  text,  // a string literal; `value` holds it with escapes resolved
  path,  // an identifier or dotted field path: candidate.rb, prv_candidates.0.jd
  kw_true,
  kw_false,
  kw_null,
  kw_and,  // and, &&
  kw_or,   // or, ||
  kw_not,  // not, !
  left_paren,
  right_paren,
  comma,
  plus,
  minus,
  star,
  slash,
  percent,
  equal,
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  end,
};

struct Token {
  TokenKind kind = TokenKind::end;
  size_t column = 1;      // 1-based
  std::string_view text;  // as written in the source
  double number = 0;      // kind == number
  std::string value;      // kind == text: the literal's contents; kind == path: the path, unquoted
};

struct LexResult {
  std::vector<Token> tokens;  // always ends with an `end` token
  std::vector<CompileError> errors;
};

// Keywords (and, or, not, true, false, null) are recognised in any letter case.
LexResult lex(std::string_view source);

// How a token reads in a message: "')'", "'foo'", "end of expression".
std::string quote_token(const Token& token);

}  // namespace ebs::expr
