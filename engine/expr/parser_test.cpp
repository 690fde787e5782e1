#include "engine/expr/parser.h"

#include <doctest/doctest.h>

#include <charconv>

using namespace ebs::expr;

namespace {

// Fully parenthesised rendering of the tree, to check precedence and grouping.
std::string render(const Node& node) {
  switch (node.kind) {
    case Node::Kind::null_literal: return "null";
    case Node::Kind::bool_literal: return node.boolean ? "true" : "false";
    case Node::Kind::number_literal: {
      char buffer[32];
      auto [end, status] = std::to_chars(buffer, buffer + sizeof buffer, node.number);
      return std::string(buffer, end);
    }
    case Node::Kind::text_literal: return "'" + node.name + "'";
    case Node::Kind::field: return node.name;
    case Node::Kind::unary:
      return "(" + std::string(node.op == Operator::negate ? "neg" : "not") + " " +
             render(*node.children[0]) + ")";
    case Node::Kind::binary:
      return "(" + render(*node.children[0]) + " " + std::string(spelling(node.op)) + " " +
             render(*node.children[1]) + ")";
    case Node::Kind::call: {
      std::string out = node.name + "(";
      for (size_t i = 0; i < node.children.size(); ++i)
        out += (i ? ", " : "") + render(*node.children[i]);
      return out + ")";
    }
  }
  return "?";
}

std::string tree(std::string_view source) {
  ParseResult result = parse(source);
  REQUIRE_MESSAGE(result.errors.empty(), result.errors.front().message);
  return render(*result.root);
}

CompileError syntax_error(std::string_view source) {
  ParseResult result = parse(source);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.root == nullptr);
  return result.errors.front();
}

}  // namespace

TEST_CASE("precedence: or < and < not < comparison < additive < multiplicative < unary") {
  CHECK(tree("a or b and c") == "(a or (b and c))");
  CHECK(tree("a and b or c") == "((a and b) or c)");
  CHECK(tree("not a and b") == "((not a) and b)");
  CHECK(tree("not a == b") == "(not (a == b))");
  CHECK(tree("! a || b && ! c") == "((not a) or (b and (not c)))");
  CHECK(tree("a + b * c > d - e / f") == "((a + (b * c)) > (d - (e / f)))");
  CHECK(tree("a - b - c") == "((a - b) - c)");
  CHECK(tree("a / b * c % d") == "(((a / b) * c) % d)");
  CHECK(tree("-a * b") == "((neg a) * b)");
  CHECK(tree("- -a") == "(neg (neg a))");
  CHECK(tree("+a") == "a");
  CHECK(tree("-(a + b)") == "(neg (a + b))");
  CHECK(tree("(a or b) and c") == "((a or b) and c)");
  CHECK(tree("not not a") == "(not (not a))");
  CHECK(tree("a and b and c") == "((a and b) and c)");
  CHECK(tree("a == b and c != d or e <= f") == "(((a == b) and (c != d)) or (e <= f))");
}

TEST_CASE("atoms and calls") {
  CHECK(tree("abs(ra - 150) <= 2.5") == "(abs((ra - 150)) <= 2.5)");
  CHECK(tree("min(a, max(b, 1e-3))") == "min(a, max(b, 0.001))");
  CHECK(tree("f()") == "f()");
  CHECK(tree("exists(candidate.ssnamenr)") == "exists(candidate.ssnamenr)");
  CHECK(tree("band == \"g\" or band == 'r'") == "((band == 'g') or (band == 'r'))");
  CHECK(tree("x == true or y == FALSE or is_null(null)") ==
        "(((x == true) or (y == false)) or is_null(null))");
  CHECK(tree("prv_candidates.0.jd") == "prv_candidates.0.jd");
  CHECK(tree("candidate.drb > 0.8 and (mag < 19.5 or not exists(candidate.ssnamenr)) and "
             "abs(ra - 150) <= 2.5") ==
        "(((candidate.drb > 0.8) and ((mag < 19.5) or (not exists(candidate.ssnamenr)))) and "
        "(abs((ra - 150)) <= 2.5))");
}

TEST_CASE("columns of nodes") {
  ParseResult result = parse("ab + (cd * 2)");
  REQUIRE(result.root);
  CHECK(result.root->column == 4);  // the operator
  CHECK(result.root->start == 1);
  CHECK(result.root->children[1]->column == 10);
  CHECK(result.root->children[1]->start == 6);  // the parenthesis
}

TEST_CASE("syntax errors with columns") {
  CHECK(syntax_error("") == CompileError{1, "empty expression"});
  CHECK(syntax_error("   ") == CompileError{1, "empty expression"});
  CHECK(syntax_error("a > 1)") == CompileError{6, "unexpected ')'"});
  CHECK(syntax_error("(a > 1") == CompileError{7, "missing ')' to close '(' at column 1"});
  CHECK(syntax_error("(a > 1 b") ==
        CompileError{8, "expected ')' to close '(' at column 1, found 'b'"});
  CHECK(syntax_error("a > 1 b") == CompileError{7, "unexpected 'b' after a complete expression"});
  CHECK(syntax_error("a >") == CompileError{4, "unexpected end of expression"});
  CHECK(syntax_error("a > > 1") == CompileError{5, "unexpected '>'"});
  CHECK(syntax_error("a < b < c") ==
        CompileError{7, "comparisons cannot be chained; write 'a < b and b < c'"});
  CHECK(syntax_error("and a") == CompileError{1, "unexpected 'and'"});
  CHECK(syntax_error("()") == CompileError{2, "unexpected ')'"});
  CHECK(syntax_error("min(a,") == CompileError{7, "unexpected end of expression"});
  CHECK(syntax_error("min(a b)") ==
        CompileError{7, "expected ',' or ')' in the arguments of 'min', found 'b'"});
  CHECK(syntax_error("min(a, b") == CompileError{9, "missing ')' to close the arguments of 'min'"});
  CHECK(syntax_error("a == not b") == CompileError{6, "'not' must be put in parentheses here"});
  CHECK(syntax_error("a,b") == CompileError{2, "unexpected ',' after a complete expression"});
}

TEST_CASE("lexical errors come first and all of them") {
  ParseResult result = parse("a # b > (");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].column == 3);
  CHECK(parse("a = 1 and b = 2").errors.size() == 2);
}

TEST_CASE("nesting is bounded") {
  std::string deep(300, '(');
  deep += "1" + std::string(300, ')');
  CompileError error = syntax_error(deep);
  CHECK(error.message == "expression is nested too deeply");
  std::string chain = "1";
  for (int i = 0; i < 300; ++i) chain += " + 1";
  CHECK(syntax_error(chain).message == "expression is nested too deeply");
  // A flat and/or chain is not nesting: a watchlist of 1,000 ids parses.
  std::string watchlist = "objectId == 'ZTF0'";
  for (int i = 1; i < 1000; ++i) watchlist += " or objectId == 'ZTF" + std::to_string(i) + "'";
  CHECK(parse(watchlist).errors.empty());
  CHECK(tree("a or b or c or d") == "((a or b) or (c or d))");
  std::string fine(100, '(');
  fine += "x" + std::string(100, ')');
  CHECK(tree(fine) == "x");
}
