#include "engine/expr/parser.h"

#include <algorithm>

#include "engine/expr/lexer.h"

namespace ebs::expr {

std::string_view spelling(Operator op) {
  switch (op) {
    case Operator::negate: return "-";
    case Operator::logical_not: return "not";
    case Operator::add: return "+";
    case Operator::subtract: return "-";
    case Operator::multiply: return "*";
    case Operator::divide: return "/";
    case Operator::modulo: return "%";
    case Operator::equal: return "==";
    case Operator::not_equal: return "!=";
    case Operator::less: return "<";
    case Operator::less_equal: return "<=";
    case Operator::greater: return ">";
    case Operator::greater_equal: return ">=";
    case Operator::logical_and: return "and";
    case Operator::logical_or: return "or";
  }
  return "?";
}

bool is_comparison(Operator op) { return op >= Operator::equal && op <= Operator::greater_equal; }
bool is_arithmetic(Operator op) { return op >= Operator::add && op <= Operator::modulo; }

namespace {

// Deeper nesting than this is refused rather than risking the parser's own stack.
constexpr int kMaxNesting = 200;

// Thrown inside the parser only, to stop at the first syntax error; never escapes parse().
struct SyntaxError {
  CompileError error;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::unique_ptr<Node> parse_all() {
    if (peek().kind == TokenKind::end) throw SyntaxError{{1, "empty expression"}};
    auto root = parse_or();
    const Token& extra = peek();
    if (extra.kind == TokenKind::right_paren) fail_at(extra, "unexpected ')'");
    if (extra.kind != TokenKind::end)
      fail_at(extra, "unexpected " + quote_token(extra) + " after a complete expression");
    return root;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& take() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool at(TokenKind kind) const { return peek().kind == kind; }

  [[noreturn]] void fail_at(const Token& token, std::string message) {
    throw SyntaxError{{token.column, std::move(message)}};
  }

  struct Depth {
    Depth(Parser& parser, const Token& token) : parser(parser) {
      if (++parser.depth_ > kMaxNesting) parser.fail_at(token, "expression is nested too deeply");
    }
    ~Depth() { --parser.depth_; }
    Parser& parser;
  };

  // Also bounds the tree's height: chains like 1+1+1+... nest without recursing in the parser.
  void check_height(Node& node, const Token& token) {
    for (const auto& child : node.children) node.height = std::max(node.height, child->height + 1);
    if (node.height > kMaxNesting) fail_at(token, "expression is nested too deeply");
  }

  std::unique_ptr<Node> make_binary(Operator op, const Token& token, std::unique_ptr<Node> left,
                                    std::unique_ptr<Node> right) {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::binary;
    node->op = op;
    node->column = token.column;
    node->start = left->start;
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(right));
    check_height(*node, token);
    return node;
  }

  std::unique_ptr<Node> make_unary(Operator op, const Token& token, std::unique_ptr<Node> operand) {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::unary;
    node->op = op;
    node->column = token.column;
    node->start = token.column;
    node->children.push_back(std::move(operand));
    check_height(*node, token);
    return node;
  }

  // `and`/`or` chains are associative: a long one (a watchlist of 200 ids) becomes a balanced tree
  // of height log2(n), so only real nesting counts against kMaxNesting. Three terms still group as
  // ((a or b) or c); evaluation is left to right either way.
  std::unique_ptr<Node> balanced(Operator op, std::vector<const Token*>& tokens,
                                 std::vector<std::unique_ptr<Node>>& terms, size_t from, size_t to) {
    if (to - from == 1) return std::move(terms[from]);
    size_t mid = from + (to - from + 1) / 2;
    auto left = balanced(op, tokens, terms, from, mid);
    auto right = balanced(op, tokens, terms, mid, to);
    return make_binary(op, *tokens[mid - 1], std::move(left), std::move(right));
  }

  template <class ParseTerm>
  std::unique_ptr<Node> parse_chain(TokenKind keyword, Operator op, ParseTerm parse_term) {
    std::vector<std::unique_ptr<Node>> terms;
    std::vector<const Token*> tokens;
    terms.push_back(parse_term());
    while (at(keyword)) {
      tokens.push_back(&take());
      terms.push_back(parse_term());
    }
    return balanced(op, tokens, terms, 0, terms.size());
  }

  std::unique_ptr<Node> parse_or() {
    return parse_chain(TokenKind::kw_or, Operator::logical_or, [this] { return parse_and(); });
  }

  std::unique_ptr<Node> parse_and() {
    return parse_chain(TokenKind::kw_and, Operator::logical_and, [this] { return parse_not(); });
  }

  std::unique_ptr<Node> parse_not() {
    if (at(TokenKind::kw_not)) {
      const Token& token = take();
      Depth depth(*this, token);
      return make_unary(Operator::logical_not, token, parse_not());
    }
    return parse_comparison();
  }

  static bool comparison_operator(TokenKind kind, Operator& op) {
    switch (kind) {
      case TokenKind::equal: op = Operator::equal; return true;
      case TokenKind::not_equal: op = Operator::not_equal; return true;
      case TokenKind::less: op = Operator::less; return true;
      case TokenKind::less_equal: op = Operator::less_equal; return true;
      case TokenKind::greater: op = Operator::greater; return true;
      case TokenKind::greater_equal: op = Operator::greater_equal; return true;
      default: return false;
    }
  }

  std::unique_ptr<Node> parse_comparison() {
    auto left = parse_additive();
    Operator op;
    if (!comparison_operator(peek().kind, op)) return left;
    const Token& token = take();
    auto node = make_binary(op, token, std::move(left), parse_additive());
    Operator second;
    if (comparison_operator(peek().kind, second))
      fail_at(peek(), "comparisons cannot be chained; write 'a < b and b < c'");
    return node;
  }

  std::unique_ptr<Node> parse_additive() {
    auto left = parse_multiplicative();
    while (at(TokenKind::plus) || at(TokenKind::minus)) {
      const Token& token = take();
      Operator op = token.kind == TokenKind::plus ? Operator::add : Operator::subtract;
      left = make_binary(op, token, std::move(left), parse_multiplicative());
    }
    return left;
  }

  std::unique_ptr<Node> parse_multiplicative() {
    auto left = parse_unary();
    while (at(TokenKind::star) || at(TokenKind::slash) || at(TokenKind::percent)) {
      const Token& token = take();
      Operator op = token.kind == TokenKind::star    ? Operator::multiply
                    : token.kind == TokenKind::slash ? Operator::divide
                                                     : Operator::modulo;
      left = make_binary(op, token, std::move(left), parse_unary());
    }
    return left;
  }

  std::unique_ptr<Node> parse_unary() {
    if (at(TokenKind::minus) || at(TokenKind::plus)) {
      const Token& token = take();
      Depth depth(*this, token);
      auto operand = parse_unary();
      if (token.kind == TokenKind::plus) {
        operand->start = token.column;
        return operand;  // unary plus changes nothing (its operand is still checked as a number)
      }
      return make_unary(Operator::negate, token, std::move(operand));
    }
    if (at(TokenKind::kw_not))
      fail_at(peek(), "'" + std::string(peek().text) + "' must be put in parentheses here");
    return parse_atom();
  }

  std::unique_ptr<Node> parse_atom() {
    const Token& token = take();
    auto node = std::make_unique<Node>();
    node->column = token.column;
    node->start = token.column;
    switch (token.kind) {
      case TokenKind::number:
        node->kind = Node::Kind::number_literal;
        node->number = token.number;
        return node;
      case TokenKind::text:
        node->kind = Node::Kind::text_literal;
        node->name = token.value;
        return node;
      case TokenKind::kw_true:
      case TokenKind::kw_false:
        node->kind = Node::Kind::bool_literal;
        node->boolean = token.kind == TokenKind::kw_true;
        return node;
      case TokenKind::kw_null: node->kind = Node::Kind::null_literal; return node;
      case TokenKind::path:
        node->name = token.value.empty() ? std::string(token.text) : token.value;
        if (!at(TokenKind::left_paren)) {
          node->kind = Node::Kind::field;
          return node;
        }
        node->kind = Node::Kind::call;
        parse_arguments(*node);
        check_height(*node, token);
        return node;
      case TokenKind::left_paren: {
        Depth depth(*this, token);
        auto inner = parse_or();
        if (!at(TokenKind::right_paren)) {
          if (at(TokenKind::end))
            fail_at(peek(), "missing ')' to close '(' at column " + std::to_string(token.column));
          fail_at(peek(), "expected ')' to close '(' at column " + std::to_string(token.column) +
                              ", found " + quote_token(peek()));
        }
        take();
        inner->start = token.column;
        return inner;
      }
      case TokenKind::end: fail_at(token, "unexpected end of expression");
      default: fail_at(token, "unexpected " + quote_token(token));
    }
  }

  void parse_arguments(Node& call) {
    const Token& open = take();
    Depth depth(*this, open);
    if (at(TokenKind::right_paren)) {
      take();
      return;
    }
    while (true) {
      call.children.push_back(parse_or());
      if (at(TokenKind::comma)) {
        take();
        continue;
      }
      if (at(TokenKind::right_paren)) {
        take();
        return;
      }
      if (at(TokenKind::end))
        fail_at(peek(), "missing ')' to close the arguments of '" + call.name + "'");
      fail_at(peek(), "expected ',' or ')' in the arguments of '" + call.name + "', found " +
                          quote_token(peek()));
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

ParseResult parse(std::string_view source) {
  ParseResult result;
  LexResult lexed = lex(source);
  if (!lexed.errors.empty()) {
    result.errors = std::move(lexed.errors);
    return result;
  }
  try {
    result.root = Parser(std::move(lexed.tokens)).parse_all();
  } catch (const SyntaxError& syntax) {
    result.errors.push_back(syntax.error);
  }
  return result;
}

}  // namespace ebs::expr
