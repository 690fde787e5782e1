// A value seen by a filter expression: null, a boolean, a number (double) or text (a view).
// Values never own text: views point into the caller's record or into the compiled program's
// literals, which is what lets evaluation run without allocating.
#pragma once

#include <concepts>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace ebs::expr {

struct Value {
  std::variant<std::monostate, bool, double, std::string_view> v;

  Value() = default;  // null
  Value(std::monostate) {}
  Value(bool boolean) : v(boolean) {}
  // Every number is a double (integers are exact up to 2^53).
  template <typename Number>
  requires(std::is_arithmetic_v<Number> && !std::same_as<Number, bool>) Value(Number number)
      : v(static_cast<double>(number)) {}
  Value(std::string_view text) : v(text) {}
  Value(const char* text) : v(std::string_view(text)) {}
  Value(const std::string& text) : v(std::string_view(text)) {}

  static Value null() { return {}; }

  bool is_null() const { return v.index() == 0; }
  bool is_bool() const { return v.index() == 1; }
  bool is_number() const { return v.index() == 2; }
  bool is_text() const { return v.index() == 3; }
  bool as_bool() const { return std::get<bool>(v); }
  double as_number() const { return std::get<double>(v); }
  std::string_view as_text() const { return std::get<std::string_view>(v); }

  friend bool operator==(const Value&, const Value&) = default;
};

// For messages and test output: null, true, 1.5, "text".
std::string to_string(const Value& value);
std::ostream& operator<<(std::ostream& out, const Value& value);

}  // namespace ebs::expr
