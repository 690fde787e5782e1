#include "engine/expr/lexer.h"

#include <doctest/doctest.h>

using namespace ebs::expr;

namespace {

std::vector<TokenKind> kinds(std::string_view source) {
  LexResult result = lex(source);
  REQUIRE_MESSAGE(result.errors.empty(), result.errors.front().message);
  std::vector<TokenKind> out;
  for (const auto& token : result.tokens) out.push_back(token.kind);
  return out;
}

CompileError only_error(std::string_view source) {
  LexResult result = lex(source);
  REQUIRE(result.errors.size() == 1);
  return result.errors.front();
}

}  // namespace

TEST_CASE("operators, keywords and their symbolic spellings") {
  using K = TokenKind;
  CHECK(kinds("a == b != c < d <= e > f >= g") ==
        std::vector<K>{K::path, K::equal, K::path, K::not_equal, K::path, K::less, K::path,
                       K::less_equal, K::path, K::greater, K::path, K::greater_equal, K::path,
                       K::end});
  CHECK(kinds("and && or || not ! AND Or NOT") ==
        std::vector<K>{K::kw_and, K::kw_and, K::kw_or, K::kw_or, K::kw_not, K::kw_not, K::kw_and,
                       K::kw_or, K::kw_not, K::end});
  CHECK(kinds("true false null True FALSE NULL") ==
        std::vector<K>{K::kw_true, K::kw_false, K::kw_null, K::kw_true, K::kw_false, K::kw_null,
                       K::end});
  CHECK(kinds("( ) , + - * / %") == std::vector<K>{K::left_paren, K::right_paren, K::comma, K::plus,
                                                   K::minus, K::star, K::slash, K::percent,
                                                   K::end});
  CHECK(kinds("!exists(x)") ==
        std::vector<K>{K::kw_not, K::path, K::left_paren, K::path, K::right_paren, K::end});
  CHECK(kinds("a\n\tand\r\nb") == std::vector<K>{K::path, K::kw_and, K::path, K::end});
}

TEST_CASE("field paths with dots and list indices") {
  LexResult result = lex("prv_candidates.0.jd > candidate.rb and _x1.y_2 and android");
  REQUIRE(result.errors.empty());
  CHECK(result.tokens[0].kind == TokenKind::path);
  CHECK(result.tokens[0].text == "prv_candidates.0.jd");
  CHECK(result.tokens[2].text == "candidate.rb");
  CHECK(result.tokens[2].column == 23);
  CHECK(result.tokens[4].text == "_x1.y_2");
  CHECK(result.tokens[6].kind == TokenKind::path);  // "android" is not "and"
  CHECK(result.tokens[6].text == "android");
  // A keyword is one only as a whole word without dots.
  CHECK(kinds("x.and") == std::vector<TokenKind>{TokenKind::path, TokenKind::end});
}

TEST_CASE("numbers") {
  for (const auto& [text_, value] : std::vector<std::pair<std::string_view, double>>{{"0", 0},
                                                                             {"42", 42},
                                                                             {"3.25", 3.25},
                                                                             {"1e-3", 1e-3},
                                                                             {"2.5E+2", 250},
                                                                             {".5", 0.5},
                                                                             {"7.", 7},
                                                                             {"19.5", 19.5}}) {
    std::string_view text = text_;  // CAPTURE's lambda cannot capture a structured binding (clang 14)
    CAPTURE(text);
    LexResult result = lex(text);
    REQUIRE(result.errors.empty());
    CHECK(result.tokens[0].kind == TokenKind::number);
    CHECK(result.tokens[0].number == value);
  }
  CHECK(only_error("x > 1.2.3").column == 5);
  CHECK(only_error("x > 1.2.3").message == "bad number '1.2.3'");
  CHECK(only_error("x > 12abc").message == "bad number '12abc'");
  CHECK(only_error("1e").message == "bad number '1e'");
  CHECK(only_error("1e+ 2").message == "bad number '1e+'");
  CHECK(only_error("x < 1e999").message == "number '1e999' is out of range");
}

TEST_CASE("strings in either quote with escapes") {
  LexResult result = lex(R"(band == "g" or name == 'it''s' or s == "a\"b\\c\n" or t == 'x\'y')");
  REQUIRE(result.errors.empty());
  CHECK(result.tokens[2].kind == TokenKind::text);
  CHECK(result.tokens[2].value == "g");
  CHECK(result.tokens[2].text == "\"g\"");
  CHECK(result.tokens[6].value == "it");  // two adjacent strings: 'it' then 's'
  CHECK(result.tokens[7].value == "s");
  CHECK(result.tokens[11].value == "a\"b\\c\n");
  CHECK(result.tokens[15].value == "x'y");
  CHECK(lex("'é'").tokens[0].value == "é");
}

TEST_CASE("lexical errors carry columns and all are reported") {
  CHECK(only_error("x == \"abc").column == 6);
  CHECK(only_error("x == \"abc").message == "unterminated string (missing closing \")");
  CHECK(only_error("x == 'a\\qb'").column == 8);
  CHECK(only_error("x == 'a\\qb'").message.starts_with("unknown escape '\\q'"));
  CHECK(only_error("x = 1").message == "'=' is not an operator; use '==' to compare");
  CHECK(only_error("x = 1").column == 3);
  CHECK(only_error("x <> 1").message == "'<>' is not an operator; use '!=' to compare");
  CHECK(only_error("a & b").message == "unexpected '&' (use 'and' or '&&')");
  CHECK(only_error("a | b").message == "unexpected '|' (use 'or' or '||')");
  CHECK(only_error("a # b").message == "unexpected character '#'");
  CHECK(only_error("a # b").column == 3);
  CHECK(only_error("a ° b").message == "unexpected character '°'");
  CHECK(only_error("candidate. > 1").message == "field path 'candidate' cannot end with '.'");
  CHECK(only_error("candidate. > 1").column == 10);

  LexResult several = lex("a # b $ c = 1");
  REQUIRE(several.errors.size() == 3);
  CHECK(several.errors[0].column == 3);
  CHECK(several.errors[1].column == 7);
  CHECK(several.errors[2].column == 11);
}

TEST_CASE("quote_token names tokens for messages") {
  LexResult result = lex("x)");
  CHECK(quote_token(result.tokens[1]) == "')'");
  CHECK(quote_token(result.tokens[2]) == "end of expression");
  CHECK(result.tokens[2].column == 3);
}
