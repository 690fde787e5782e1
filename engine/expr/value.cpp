#include "engine/expr/value.h"

#include <charconv>
#include <ostream>

namespace ebs::expr {

std::string to_string(const Value& value) {
  switch (value.v.index()) {
    case 1: return value.as_bool() ? "true" : "false";
    case 2: {
      char buffer[32];
      auto [end, status] = std::to_chars(buffer, buffer + sizeof buffer, value.as_number());
      return std::string(buffer, end);
    }
    case 3: return "\"" + std::string(value.as_text()) + "\"";
    default: return "null";
  }
}

std::ostream& operator<<(std::ostream& out, const Value& value) { return out << to_string(value); }

}  // namespace ebs::expr
