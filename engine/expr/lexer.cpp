#include "engine/expr/lexer.h"

#include <charconv>

namespace ebs::expr {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_identifier_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_identifier_char(char c) { return is_identifier_start(c) || is_digit(c); }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

TokenKind keyword_or_path(std::string_view word) {
  struct Keyword {
    std::string_view name;
    TokenKind kind;
  };
  static constexpr Keyword keywords[] = {
      {"and", TokenKind::kw_and},   {"or", TokenKind::kw_or},       {"not", TokenKind::kw_not},
      {"true", TokenKind::kw_true}, {"false", TokenKind::kw_false}, {"null", TokenKind::kw_null},
  };
  for (const auto& keyword : keywords)
    if (equals_ignoring_case(word, keyword.name)) return keyword.kind;
  return TokenKind::path;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : source_(source) {}

  LexResult run() {
    while (true) {
      skip_space();
      if (at_end()) break;
      lex_one();
    }
    Token end;
    end.kind = TokenKind::end;
    end.column = source_.size() + 1;
    result_.tokens.push_back(std::move(end));
    return std::move(result_);
  }

 private:
  bool at_end() const { return pos_ >= source_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < source_.size() ? source_[pos_ + ahead] : '\0';
  }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  void error(size_t offset, std::string message) {
    result_.errors.push_back({offset + 1, std::move(message)});
  }
  void add(TokenKind kind, size_t start, size_t length) {
    Token token;
    token.kind = kind;
    token.column = start + 1;
    token.text = source_.substr(start, length);
    result_.tokens.push_back(std::move(token));
    pos_ = start + length;
  }

  void lex_one() {
    size_t start = pos_;
    char c = peek();
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return lex_number();
    if (is_identifier_start(c) || c == '`') return lex_path();
    if (c == '"' || c == '\'') return lex_string();
    switch (c) {
      case '(': return add(TokenKind::left_paren, start, 1);
      case ')': return add(TokenKind::right_paren, start, 1);
      case ',': return add(TokenKind::comma, start, 1);
      case '+': return add(TokenKind::plus, start, 1);
      case '-': return add(TokenKind::minus, start, 1);
      case '*': return add(TokenKind::star, start, 1);
      case '/': return add(TokenKind::slash, start, 1);
      case '%': return add(TokenKind::percent, start, 1);
      case '=':
        if (peek(1) == '=') return add(TokenKind::equal, start, 2);
        error(start, "'=' is not an operator; use '==' to compare");
        ++pos_;
        return;
      case '!':
        if (peek(1) == '=') return add(TokenKind::not_equal, start, 2);
        return add(TokenKind::kw_not, start, 1);
      case '<':
        if (peek(1) == '=') return add(TokenKind::less_equal, start, 2);
        if (peek(1) == '>') {
          error(start, "'<>' is not an operator; use '!=' to compare");
          pos_ += 2;
          return;
        }
        return add(TokenKind::less, start, 1);
      case '>':
        if (peek(1) == '=') return add(TokenKind::greater_equal, start, 2);
        return add(TokenKind::greater, start, 1);
      case '&':
        if (peek(1) == '&') return add(TokenKind::kw_and, start, 2);
        error(start, "unexpected '&' (use 'and' or '&&')");
        ++pos_;
        return;
      case '|':
        if (peek(1) == '|') return add(TokenKind::kw_or, start, 2);
        error(start, "unexpected '|' (use 'or' or '||')");
        ++pos_;
        return;
      default: break;
    }
    // Report a whole UTF-8 sequence as one character.
    size_t length = 1;
    if (static_cast<unsigned char>(c) >= 0x80)
      while (start + length < source_.size() &&
             (static_cast<unsigned char>(source_[start + length]) & 0xC0) == 0x80)
        ++length;
    error(start, "unexpected character '" + std::string(source_.substr(start, length)) + "'");
    pos_ += length;
  }

  void lex_number() {
    size_t start = pos_;
    size_t end = pos_;
    while (end < source_.size() && is_digit(source_[end])) ++end;
    if (end < source_.size() && source_[end] == '.') {
      ++end;
      while (end < source_.size() && is_digit(source_[end])) ++end;
    }
    if (end < source_.size() && (source_[end] == 'e' || source_[end] == 'E')) {
      ++end;
      if (end < source_.size() && (source_[end] == '+' || source_[end] == '-')) ++end;
      while (end < source_.size() && is_digit(source_[end])) ++end;
    }
    // Letters, digits or dots glued to a number make it malformed as a whole: "1.2.3", "12abc".
    size_t glued = end;
    while (glued < source_.size() && (is_identifier_char(source_[glued]) || source_[glued] == '.'))
      ++glued;
    std::string_view text = source_.substr(start, glued - start);
    double number = 0;
    auto [parsed_end, status] = std::from_chars(text.data(), text.data() + text.size(), number);
    bool complete = status == std::errc() && parsed_end == text.data() + text.size();
    if (!complete && status == std::errc::result_out_of_range &&
        parsed_end == text.data() + text.size()) {
      error(start, "number '" + std::string(text) + "' is out of range");
    } else if (!complete) {
      error(start, "bad number '" + std::string(text) + "'");
    }
    if (!complete) {
      pos_ = glued;
      return;
    }
    add(TokenKind::number, start, glued - start);
    result_.tokens.back().number = number;
  }

  // A path: segments joined by dots (no spaces around them); a segment is an identifier, a list
  // index, or any name in backquotes (`example-transient-lc-basic-1`: model stems have '-').
  void lex_path() {
    size_t start = pos_;
    size_t end = pos_;
    std::string name;
    bool quoted = false;
    for (;;) {
      size_t segment = end;
      if (end < source_.size() && source_[end] == '`') {
        size_t close = source_.find('`', end + 1);
        if (close == std::string_view::npos) {
          error(end, "unterminated quoted name (missing closing `)");
          pos_ = source_.size();
          return;
        }
        if (close == end + 1) error(end, "empty quoted name ``");
        name += source_.substr(end + 1, close - end - 1);
        end = close + 1;
        quoted = true;
      } else {
        while (end < source_.size() && is_identifier_char(source_[end])) ++end;
        if (end == segment) {
          error(segment - 1, "field path '" + std::string(source_.substr(start, segment - 1 - start)) +
                                 "' cannot end with '.'");
          add(TokenKind::path, start, segment - 1 - start);
          result_.tokens.back().value = name.substr(0, name.empty() ? 0 : name.size() - 1);
          pos_ = segment;
          return;
        }
        name += source_.substr(segment, end - segment);
      }
      if (end < source_.size() && source_[end] == '.') {
        name += '.';
        ++end;
        continue;
      }
      break;
    }
    std::string_view word = source_.substr(start, end - start);
    add(quoted ? TokenKind::path : keyword_or_path(word), start, end - start);
    result_.tokens.back().value = std::move(name);
  }

  void lex_string() {
    size_t start = pos_;
    char quote = peek();
    std::string value;
    size_t i = start + 1;
    while (i < source_.size() && source_[i] != quote) {
      char c = source_[i];
      if (c == '\\') {
        if (i + 1 >= source_.size()) break;
        char escaped = source_[i + 1];
        switch (escaped) {
          case '\\': value += '\\'; break;
          case '\'': value += '\''; break;
          case '"': value += '"'; break;
          case 'n': value += '\n'; break;
          case 't': value += '\t'; break;
          case 'r': value += '\r'; break;
          default:
            error(i, "unknown escape '\\" + std::string(1, escaped) +
                         "' (known: \\\\ \\' \\\" \\n \\t \\r)");
            value += escaped;
        }
        i += 2;
        continue;
      }
      value += c;
      ++i;
    }
    if (i >= source_.size()) {
      error(start, "unterminated string (missing closing " + std::string(1, quote) + ")");
      pos_ = source_.size();
      return;
    }
    add(TokenKind::text, start, i + 1 - start);
    result_.tokens.back().value = std::move(value);
  }

  std::string_view source_;
  size_t pos_ = 0;
  LexResult result_;
};

}  // namespace

LexResult lex(std::string_view source) { return Lexer(source).run(); }

std::string quote_token(const Token& token) {
  if (token.kind == TokenKind::end) return "end of expression";
  return "'" + std::string(token.text) + "'";
}

}  // namespace ebs::expr
