#include "engine/expr/program.h"

#include "engine/util/edit_distance.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "engine/expr/parser.h"
#include "engine/util/fault.h"

namespace ebs::expr {

namespace {

// Deepest evaluation stack a program may need; the parser's nesting limit keeps real
// expressions far below it. The stack lives in eval()'s frame, uninitialised.
constexpr size_t kMaxStack = 256;

enum class Kind : uint8_t { null, boolean, number, text };

// The evaluator's value. Trivially constructible, so the stack array costs nothing to set up.
struct Slot {
  Kind kind;
  bool boolean;
  double number;
  const char* data;
  size_t size;
};

constexpr Slot null_slot() { return {Kind::null, false, 0.0, nullptr, 0}; }
constexpr Slot bool_slot(bool value) { return {Kind::boolean, value, 0.0, nullptr, 0}; }
// NaN never enters the evaluator: it reads as null, so every comparison with it is null too.
inline Slot number_slot(double value) {
  return value == value ? Slot{Kind::number, false, value, nullptr, 0} : null_slot();
}
constexpr Slot text_slot(std::string_view text) {
  return {Kind::text, false, 0.0, text.data(), text.size()};
}
inline std::string_view text_of(const Slot& slot) { return {slot.data, slot.size}; }

inline Slot load(const Value& value) {
  switch (value.v.index()) {
    case 1: return bool_slot(*std::get_if<bool>(&value.v));
    case 2: return number_slot(*std::get_if<double>(&value.v));
    case 3: return text_slot(*std::get_if<std::string_view>(&value.v));
    default: return null_slot();
  }
}

Value to_value(const Slot& slot) {
  switch (slot.kind) {
    case Kind::boolean: return Value(slot.boolean);
    case Kind::number: return Value(slot.number);
    case Kind::text: return Value(text_of(slot));
    case Kind::null: break;
  }
  return Value();
}

// ---- operations, shared by the evaluator and constant folding ----

template <Operator op>
inline Slot arithmetic(const Slot& left, const Slot& right) {
  if (left.kind != Kind::number || right.kind != Kind::number) return null_slot();
  double a = left.number, b = right.number;
  if constexpr (op == Operator::add) return number_slot(a + b);
  if constexpr (op == Operator::subtract) return number_slot(a - b);
  if constexpr (op == Operator::multiply) return number_slot(a * b);
  if constexpr (op == Operator::divide) return b == 0 ? null_slot() : number_slot(a / b);
  if constexpr (op == Operator::modulo) return b == 0 ? null_slot() : number_slot(std::fmod(a, b));
  return null_slot();
}

template <Operator op, typename T>
inline bool ordered(const T& a, const T& b) {
  if constexpr (op == Operator::equal) return a == b;
  if constexpr (op == Operator::not_equal) return a != b;
  if constexpr (op == Operator::less) return a < b;
  if constexpr (op == Operator::less_equal) return a <= b;
  if constexpr (op == Operator::greater) return a > b;
  if constexpr (op == Operator::greater_equal) return a >= b;
  return false;
}

// Values of different kinds (or null) compare as null; booleans only compare for (in)equality.
template <Operator op>
inline Slot compare(const Slot& left, const Slot& right) {
  if (left.kind != right.kind) return null_slot();
  switch (left.kind) {
    case Kind::number: return bool_slot(ordered<op>(left.number, right.number));
    case Kind::text: return bool_slot(ordered<op>(text_of(left).compare(text_of(right)), 0));
    case Kind::boolean:
      if constexpr (op == Operator::equal || op == Operator::not_equal)
        return bool_slot(ordered<op>(left.boolean, right.boolean));
      return null_slot();
    case Kind::null: break;
  }
  return null_slot();
}

inline bool is_true(const Slot& slot) { return slot.kind == Kind::boolean && slot.boolean; }
inline bool is_false(const Slot& slot) { return slot.kind == Kind::boolean && !slot.boolean; }

// Three-valued logic; anything but a boolean counts as unknown.
inline Slot logical_and(const Slot& left, const Slot& right) {
  if (is_false(left) || is_false(right)) return bool_slot(false);
  if (is_true(left) && is_true(right)) return bool_slot(true);
  return null_slot();
}
inline Slot logical_or(const Slot& left, const Slot& right) {
  if (is_true(left) || is_true(right)) return bool_slot(true);
  if (is_false(left) && is_false(right)) return bool_slot(false);
  return null_slot();
}
inline Slot logical_not(const Slot& slot) {
  return slot.kind == Kind::boolean ? bool_slot(!slot.boolean) : null_slot();
}

enum class Function : uint8_t { abs, log10, sqrt, exists, min, max, is_null };

struct FunctionInfo {
  std::string_view name;
  Function function;
  size_t arity;
};

constexpr FunctionInfo kFunctions[] = {
    {"abs", Function::abs, 1},         {"log10", Function::log10, 1}, {"sqrt", Function::sqrt, 1},
    {"exists", Function::exists, 1},   {"min", Function::min, 2},     {"max", Function::max, 2},
    {"is_null", Function::is_null, 1},
};

template <Function function>
inline Slot math(const Slot& x) {
  if (x.kind != Kind::number) return null_slot();
  if constexpr (function == Function::abs) return number_slot(std::fabs(x.number));
  if constexpr (function == Function::log10)
    return x.number > 0 ? number_slot(std::log10(x.number)) : null_slot();
  if constexpr (function == Function::sqrt)
    return x.number >= 0 ? number_slot(std::sqrt(x.number)) : null_slot();
  return null_slot();
}

template <Function function>
inline Slot math(const Slot& a, const Slot& b) {
  if (a.kind != Kind::number || b.kind != Kind::number) return null_slot();
  if constexpr (function == Function::min) return number_slot(std::min(a.number, b.number));
  if constexpr (function == Function::max) return number_slot(std::max(a.number, b.number));
  return null_slot();
}

// ---- bytecode ----

// Operands: a = constant, field slot or jump target; b = constant (field comparisons).
// One list, so that the enum and the names printed by disassemble() stay in step.
// clang-format off
#define EBS_EXPR_OPS(X)                                                                     \
  X(push_const)                 /* push constant a */                                      \
  X(load_field)                 /* push field a */                                         \
  /* field a compared with constant b, fused; then specialised for number and text */      \
  X(field_equal) X(field_not_equal) X(field_less) X(field_less_equal) X(field_greater)     \
  X(field_greater_equal)                                                                   \
  X(field_equal_number) X(field_not_equal_number) X(field_less_number)                     \
  X(field_less_equal_number) X(field_greater_number) X(field_greater_equal_number)         \
  X(field_equal_text) X(field_not_equal_text)                                              \
  /* the two top values compared */                                                        \
  X(equal) X(not_equal) X(less) X(less_equal) X(greater) X(greater_equal)                  \
  /* the top value compared with constant a */                                             \
  X(equal_const) X(not_equal_const) X(less_const) X(less_equal_const) X(greater_const)     \
  X(greater_equal_const)                                                                   \
  X(negate) X(add) X(subtract) X(multiply) X(divide) X(modulo)                             \
  /* the top value with constant a on the right */                                         \
  X(add_const) X(subtract_const) X(multiply_const) X(divide_const) X(modulo_const)         \
  X(logical_not)                                                                           \
  /* n-ary and/or: the head turns the first term into the running result (false: jump to   \
     a, the chain's end); each step folds the next term into it, jumping once decided */   \
  X(and_head) X(and_step) X(or_head) X(or_step)                                            \
  X(abs) X(log10) X(sqrt) X(min) X(max) X(is_null)                                         \
  X(exists) X(absent) /* field a is present and not null / is missing or null */
// clang-format on

enum class Op : uint8_t {
#define EBS_EXPR_OP_ENUM(name) name,
  EBS_EXPR_OPS(EBS_EXPR_OP_ENUM)
#undef EBS_EXPR_OP_ENUM
};

constexpr std::string_view kOpNames[] = {
#define EBS_EXPR_OP_NAME(name) #name,
    EBS_EXPR_OPS(EBS_EXPR_OP_NAME)
#undef EBS_EXPR_OP_NAME
};

struct Instruction {
  Op op;
  uint32_t a = 0;
  uint32_t b = 0;
};

// The comparison instruction for `op`: between two stack values (Op::equal...), or between a
// field and a constant of the given kind (Op::field_equal...).
enum class Operands { stack, constant, field_any, field_number, field_text };

Op comparison_op(Operator op, Operands operands) {
  int offset = static_cast<int>(op) - static_cast<int>(Operator::equal);
  Op first = Op::equal;
  switch (operands) {
    case Operands::stack: first = Op::equal; break;
    case Operands::constant: first = Op::equal_const; break;
    case Operands::field_any: first = Op::field_equal; break;
    case Operands::field_number: first = Op::field_equal_number; break;
    case Operands::field_text:
      if (op != Operator::equal && op != Operator::not_equal)
        return comparison_op(op, Operands::field_any);
      first = Op::field_equal_text;
      break;
  }
  return static_cast<Op>(static_cast<int>(first) + offset);
}

template <Operator op>
inline Slot field_number(const Value& value, double constant) {
  const double* number = std::get_if<double>(&value.v);
  if (!number || *number != *number) return null_slot();
  return bool_slot(ordered<op>(*number, constant));
}

template <Operator op>
inline Slot field_text(const Value& value, const Slot& constant) {
  const std::string_view* text = std::get_if<std::string_view>(&value.v);
  if (!text) return null_slot();
  return bool_slot(ordered<op>(*text, text_of(constant)));
}

Operator mirrored(Operator op) {
  switch (op) {
    case Operator::less: return Operator::greater;
    case Operator::less_equal: return Operator::greater_equal;
    case Operator::greater: return Operator::less;
    case Operator::greater_equal: return Operator::less_equal;
    default: return op;
  }
}


}  // namespace

struct Program::Code {
  std::string text;
  std::vector<std::string> fields;
  std::vector<Slot> constants;
  std::vector<std::unique_ptr<std::string>> literal_texts;  // text constants point in here
  std::vector<Instruction> instructions;
  size_t max_stack = 0;
};

namespace {

// What the checker knows of a subexpression's type; every type may also be null at run time.
enum class Type { null, boolean, number, text, any };

std::string_view describe(Type type) {
  switch (type) {
    case Type::null: return "null";
    case Type::boolean: return "a boolean";
    case Type::number: return "a number";
    case Type::text: return "text";
    case Type::any: return "anything";
  }
  return "?";
}

const FunctionInfo* find_function(std::string_view name) {
  for (const auto& info : kFunctions)
    if (info.name == name) return &info;
  return nullptr;
}

bool is_literal(const Node& node) {
  return node.kind == Node::Kind::null_literal || node.kind == Node::Kind::bool_literal ||
         node.kind == Node::Kind::number_literal || node.kind == Node::Kind::text_literal;
}

Slot literal_slot(const Node& node) {
  switch (node.kind) {
    case Node::Kind::bool_literal: return bool_slot(node.boolean);
    case Node::Kind::number_literal: return number_slot(node.number);
    case Node::Kind::text_literal: return text_slot(node.name);
    default: return null_slot();
  }
}

Slot apply_binary(Operator op, const Slot& a, const Slot& b) {
  switch (op) {
    case Operator::add: return arithmetic<Operator::add>(a, b);
    case Operator::subtract: return arithmetic<Operator::subtract>(a, b);
    case Operator::multiply: return arithmetic<Operator::multiply>(a, b);
    case Operator::divide: return arithmetic<Operator::divide>(a, b);
    case Operator::modulo: return arithmetic<Operator::modulo>(a, b);
    case Operator::equal: return compare<Operator::equal>(a, b);
    case Operator::not_equal: return compare<Operator::not_equal>(a, b);
    case Operator::less: return compare<Operator::less>(a, b);
    case Operator::less_equal: return compare<Operator::less_equal>(a, b);
    case Operator::greater: return compare<Operator::greater>(a, b);
    case Operator::greater_equal: return compare<Operator::greater_equal>(a, b);
    case Operator::logical_and: return logical_and(a, b);
    case Operator::logical_or: return logical_or(a, b);
    default: return null_slot();
  }
}

class Compiler {
 public:
  explicit Compiler(Program::Code& code) : code_(code) {}

  std::vector<CompileError> errors;

  Type check(const Node& node) {
    switch (node.kind) {
      case Node::Kind::null_literal: return Type::null;
      case Node::Kind::bool_literal: return Type::boolean;
      case Node::Kind::number_literal: return Type::number;
      case Node::Kind::text_literal: return Type::text;
      case Node::Kind::field: return Type::any;
      case Node::Kind::unary: return check_unary(node);
      case Node::Kind::binary: return check_binary(node);
      case Node::Kind::call: return check_call(node);
    }
    return Type::any;
  }

  // Replaces every subtree without fields by its value (e.g. "-1", "2 * 3.5").
  void fold(Node& node) {
    for (auto& child : node.children) fold(*child);
    if (node.kind != Node::Kind::unary && node.kind != Node::Kind::binary &&
        node.kind != Node::Kind::call)
      return;
    for (const auto& child : node.children)
      if (!is_literal(*child)) return;
    std::optional<Slot> value = evaluate_constant(node);
    if (!value || value->kind == Kind::text) return;
    node.children.clear();
    switch (value->kind) {
      case Kind::boolean:
        node.kind = Node::Kind::bool_literal;
        node.boolean = value->boolean;
        break;
      case Kind::number:
        node.kind = Node::Kind::number_literal;
        node.number = value->number;
        break;
      default: node.kind = Node::Kind::null_literal; break;
    }
  }

  void emit(const Node& node) {
    switch (node.kind) {
      case Node::Kind::null_literal:
      case Node::Kind::bool_literal:
      case Node::Kind::number_literal:
      case Node::Kind::text_literal: push(Op::push_const, constant(node)); return;
      case Node::Kind::field: push(Op::load_field, field_slot(node.name)); return;
      case Node::Kind::unary: {
        const Node& operand = *node.children[0];
        if (node.op == Operator::logical_not && operand.kind == Node::Kind::call &&
            operand.name == "exists") {
          push(Op::absent, field_slot(operand.children[0]->name));
          return;
        }
        emit(operand);
        add(node.op == Operator::negate ? Op::negate : Op::logical_not, 0, 0, 0);
        return;
      }
      case Node::Kind::binary: return emit_binary(node);
      case Node::Kind::call: return emit_call(node);
    }
  }

 private:
  void error(size_t column, std::string message) { errors.push_back({column, std::move(message)}); }

  Type check_unary(const Node& node) {
    const Node& operand = *node.children[0];
    Type type = check(operand);
    if (node.op == Operator::negate) {
      if (type == Type::null)
        error(node.column, "'-' of null always gives null");
      else if (type != Type::number && type != Type::any)
        error(operand.start, "'-' needs a number, found " + std::string(describe(type)));
      return Type::number;
    }
    if (type == Type::number || type == Type::text)
      error(operand.start, "'not' needs a true/false value, found " + std::string(describe(type)));
    return Type::boolean;
  }

  Type check_binary(const Node& node) {
    const Node& left = *node.children[0];
    const Node& right = *node.children[1];
    Type left_type = check(left);
    Type right_type = check(right);
    std::string op(spelling(node.op));
    if (is_arithmetic(node.op)) {
      if (left_type == Type::null || right_type == Type::null) {
        error(node.column, "'" + op + "' with null always gives null");
        return Type::number;
      }
      if (left_type != Type::number && left_type != Type::any)
        error(left.start, "'" + op + "' needs numbers, found " + std::string(describe(left_type)) +
                              " on its left");
      if (right_type != Type::number && right_type != Type::any)
        error(right.start, "'" + op + "' needs numbers, found " +
                               std::string(describe(right_type)) + " on its right");
      return Type::number;
    }
    if (is_comparison(node.op)) {
      if (left_type == Type::null || right_type == Type::null) {
        error(node.column, "comparing with null always gives null; use is_null(x) or exists(path)");
      } else if (left_type != Type::any && right_type != Type::any && left_type != right_type) {
        error(node.column, "cannot compare " + std::string(describe(left_type)) + " with " +
                               std::string(describe(right_type)) + " using '" + op + "'");
      } else if (node.op != Operator::equal && node.op != Operator::not_equal &&
                 (left_type == Type::boolean || right_type == Type::boolean)) {
        error(node.column, "'" + op + "' cannot order true/false values; use == or !=");
      }
      return Type::boolean;
    }
    // and, or
    if (left_type == Type::number || left_type == Type::text)
      error(left.start, "'" + op + "' needs true/false values, found " +
                            std::string(describe(left_type)) + " on its left");
    if (right_type == Type::number || right_type == Type::text)
      error(right.start, "'" + op + "' needs true/false values, found " +
                             std::string(describe(right_type)) + " on its right");
    return Type::boolean;
  }

  Type check_call(const Node& node) {
    const FunctionInfo* info = find_function(node.name);
    if (!info) {
      error(node.column, unknown_function_message(node.name));
      for (const auto& argument : node.children) check(*argument);
      return Type::any;
    }
    if (node.children.size() != info->arity) {
      error(node.column, "'" + node.name + "' takes " + std::to_string(info->arity) +
                             (info->arity == 1 ? " argument" : " arguments") + ", found " +
                             std::to_string(node.children.size()));
      for (const auto& argument : node.children) check(*argument);
      return info->function == Function::exists || info->function == Function::is_null
                 ? Type::boolean
                 : Type::number;
    }
    switch (info->function) {
      case Function::exists:
        if (node.children[0]->kind != Node::Kind::field)
          error(node.children[0]->start,
                "exists() takes a field path, e.g. exists(candidate.ssnamenr)");
        return Type::boolean;
      case Function::is_null: check(*node.children[0]); return Type::boolean;
      default: break;
    }
    for (const auto& argument : node.children) {
      Type type = check(*argument);
      if (type == Type::null)
        error(argument->start, "'" + node.name + "' of null always gives null");
      else if (type != Type::number && type != Type::any)
        error(argument->start,
              "'" + node.name + "' needs a number, found " + std::string(describe(type)));
    }
    return Type::number;
  }

  static std::string unknown_function_message(const std::string& name) {
    std::string best;
    size_t best_distance = 3;  // suggest only close spellings
    for (const auto& info : kFunctions) {
      size_t distance = edit_distance(name, info.name);
      if (distance < best_distance && distance < info.name.size()) {
        best_distance = distance;
        best = info.name;
      }
    }
    if (!best.empty()) return "unknown function '" + name + "' (did you mean '" + best + "'?)";
    std::string known;
    for (const auto& info : kFunctions)
      known += (known.empty() ? "" : ", ") + std::string(info.name);
    return "unknown function '" + name + "' (known: " + known + ")";
  }

  static std::optional<Slot> evaluate_constant(const Node& node) {
    if (node.kind == Node::Kind::unary) {
      Slot x = literal_slot(*node.children[0]);
      if (node.op == Operator::negate)
        return x.kind == Kind::number ? number_slot(-x.number) : null_slot();
      return logical_not(x);
    }
    if (node.kind == Node::Kind::binary)
      return apply_binary(node.op, literal_slot(*node.children[0]),
                          literal_slot(*node.children[1]));
    const FunctionInfo* info = find_function(node.name);
    if (!info) return std::nullopt;
    Slot x = literal_slot(*node.children[0]);
    switch (info->function) {
      case Function::abs: return math<Function::abs>(x);
      case Function::log10: return math<Function::log10>(x);
      case Function::sqrt: return math<Function::sqrt>(x);
      case Function::is_null: return bool_slot(x.kind == Kind::null);
      case Function::min: return math<Function::min>(x, literal_slot(*node.children[1]));
      case Function::max: return math<Function::max>(x, literal_slot(*node.children[1]));
      case Function::exists: return std::nullopt;
    }
    return std::nullopt;
  }

  // ---- emission ----

  uint32_t constant(const Node& literal) {
    Slot slot = literal_slot(literal);
    if (slot.kind == Kind::text) {
      code_.literal_texts.push_back(std::make_unique<std::string>(literal.name));
      slot = text_slot(*code_.literal_texts.back());
    }
    code_.constants.push_back(slot);
    return static_cast<uint32_t>(code_.constants.size() - 1);
  }

  uint32_t field_slot(const std::string& path) {
    auto [it, inserted] = slots_.emplace(path, static_cast<uint32_t>(code_.fields.size()));
    if (inserted) code_.fields.push_back(path);
    return it->second;
  }

  // Stack effect of each instruction keeps max_stack exact.
  void add(Op op, uint32_t a = 0, uint32_t b = 0, int stack_change = -1) {
    code_.instructions.push_back({op, a, b});
    depth_ += stack_change;
    code_.max_stack = std::max(code_.max_stack, static_cast<size_t>(depth_));
  }
  void push(Op op, uint32_t a = 0, uint32_t b = 0) { add(op, a, b, +1); }

  // The terms of a chain of one logical operator, e.g. "a and (b and c) and d" -> a b c d.
  static void collect_terms(const Node& node, Operator op, std::vector<const Node*>& terms) {
    if (node.kind == Node::Kind::binary && node.op == op) {
      collect_terms(*node.children[0], op, terms);
      collect_terms(*node.children[1], op, terms);
    } else {
      terms.push_back(&node);
    }
  }

  void emit_logical(const Node& node) {
    bool is_and = node.op == Operator::logical_and;
    std::vector<const Node*> terms;
    collect_terms(node, node.op, terms);
    std::vector<size_t> jumps;
    emit(*terms[0]);
    jumps.push_back(code_.instructions.size());
    add(is_and ? Op::and_head : Op::or_head, 0, 0, 0);
    for (size_t i = 1; i < terms.size(); ++i) {
      emit(*terms[i]);
      jumps.push_back(code_.instructions.size());
      add(is_and ? Op::and_step : Op::or_step);
    }
    for (size_t jump : jumps)
      code_.instructions[jump].a = static_cast<uint32_t>(code_.instructions.size());
  }

  void emit_binary(const Node& node) {
    const Node& left = *node.children[0];
    const Node& right = *node.children[1];
    if (node.op == Operator::logical_and || node.op == Operator::logical_or)
      return emit_logical(node);
    if (is_comparison(node.op)) {
      const Node* other = &left;
      const Node* literal = nullptr;
      Operator op = node.op;
      if (is_literal(right)) {
        literal = &right;
      } else if (is_literal(left)) {
        other = &right;
        literal = &left;
        op = mirrored(op);
      }
      if (literal && other->kind == Node::Kind::field) {
        Operands operands = literal->kind == Node::Kind::number_literal ? Operands::field_number
                            : literal->kind == Node::Kind::text_literal ? Operands::field_text
                                                                        : Operands::field_any;
        uint32_t slot = field_slot(other->name);
        push(comparison_op(op, operands), slot, constant(*literal));
        return;
      }
      if (literal) {
        emit(*other);
        add(comparison_op(op, Operands::constant), constant(*literal), 0, 0);
        return;
      }
      emit(left);
      emit(right);
      add(comparison_op(node.op, Operands::stack));
      return;
    }
    // Arithmetic; a constant right operand is taken from the constants directly.
    int offset = static_cast<int>(node.op) - static_cast<int>(Operator::add);
    emit(left);
    if (is_literal(right)) {
      add(static_cast<Op>(static_cast<int>(Op::add_const) + offset), constant(right), 0, 0);
      return;
    }
    emit(right);
    add(static_cast<Op>(static_cast<int>(Op::add) + offset));
  }

  void emit_call(const Node& node) {
    const FunctionInfo* info = find_function(node.name);
    if (info->function == Function::exists) {
      push(Op::exists, field_slot(node.children[0]->name));
      return;
    }
    if (info->function == Function::is_null && node.children[0]->kind == Node::Kind::field) {
      push(Op::absent, field_slot(node.children[0]->name));
      return;
    }
    for (const auto& argument : node.children) emit(*argument);
    switch (info->function) {
      case Function::abs: add(Op::abs, 0, 0, 0); break;
      case Function::log10: add(Op::log10, 0, 0, 0); break;
      case Function::sqrt: add(Op::sqrt, 0, 0, 0); break;
      case Function::is_null: add(Op::is_null, 0, 0, 0); break;
      case Function::min: add(Op::min); break;
      case Function::max: add(Op::max); break;
      case Function::exists: break;
    }
  }

  Program::Code& code_;
  std::unordered_map<std::string, uint32_t> slots_;
  int depth_ = 0;
};

}  // namespace

std::variant<Program, std::vector<CompileError>> Program::compile(std::string_view text) {
  ParseResult parsed = parse(text);
  if (!parsed.errors.empty()) return std::move(parsed.errors);

  auto code = std::make_shared<Code>();
  code->text = std::string(text);
  Compiler compiler(*code);
  compiler.check(*parsed.root);
  if (!compiler.errors.empty()) {
    std::stable_sort(
        compiler.errors.begin(), compiler.errors.end(),
        [](const CompileError& a, const CompileError& b) { return a.column < b.column; });
    return std::move(compiler.errors);
  }
  compiler.fold(*parsed.root);
  compiler.emit(*parsed.root);
  if (code->max_stack > kMaxStack)
    return std::vector<CompileError>{{1, "expression is nested too deeply"}};
  return Program(std::move(code));
}

const std::vector<std::string>& Program::fields() const { return code_->fields; }

std::string_view Program::text() const { return code_->text; }

namespace {

Slot run(const Program::Code& code, std::span<const Value> values) {
  if (values.size() < code.fields.size())
    fail("expression '" + code.text + "'", "given " + std::to_string(values.size()) +
                                               " field values, needs " +
                                               std::to_string(code.fields.size()));
  Slot stack[kMaxStack];
  Slot* top = stack;  // next free entry
  const Value* fields = values.data();
  const Slot* constants = code.constants.data();
  const Instruction* const begin = code.instructions.data();
  const Instruction* const end = begin + code.instructions.size();
  for (const Instruction* pc = begin; pc != end;) {
    const Instruction& in = *pc++;
    switch (in.op) {
      case Op::push_const: *top++ = constants[in.a]; break;
      case Op::load_field: *top++ = load(fields[in.a]); break;
      case Op::field_equal:
        *top++ = compare<Operator::equal>(load(fields[in.a]), constants[in.b]);
        break;
      case Op::field_not_equal:
        *top++ = compare<Operator::not_equal>(load(fields[in.a]), constants[in.b]);
        break;
      case Op::field_less:
        *top++ = compare<Operator::less>(load(fields[in.a]), constants[in.b]);
        break;
      case Op::field_less_equal:
        *top++ = compare<Operator::less_equal>(load(fields[in.a]), constants[in.b]);
        break;
      case Op::field_greater:
        *top++ = compare<Operator::greater>(load(fields[in.a]), constants[in.b]);
        break;
      case Op::field_greater_equal:
        *top++ = compare<Operator::greater_equal>(load(fields[in.a]), constants[in.b]);
        break;
      case Op::field_equal_number:
        *top++ = field_number<Operator::equal>(fields[in.a], constants[in.b].number);
        break;
      case Op::field_not_equal_number:
        *top++ = field_number<Operator::not_equal>(fields[in.a], constants[in.b].number);
        break;
      case Op::field_less_number:
        *top++ = field_number<Operator::less>(fields[in.a], constants[in.b].number);
        break;
      case Op::field_less_equal_number:
        *top++ = field_number<Operator::less_equal>(fields[in.a], constants[in.b].number);
        break;
      case Op::field_greater_number:
        *top++ = field_number<Operator::greater>(fields[in.a], constants[in.b].number);
        break;
      case Op::field_greater_equal_number:
        *top++ = field_number<Operator::greater_equal>(fields[in.a], constants[in.b].number);
        break;
      case Op::field_equal_text:
        *top++ = field_text<Operator::equal>(fields[in.a], constants[in.b]);
        break;
      case Op::field_not_equal_text:
        *top++ = field_text<Operator::not_equal>(fields[in.a], constants[in.b]);
        break;
      case Op::equal:
        --top;
        top[-1] = compare<Operator::equal>(top[-1], top[0]);
        break;
      case Op::not_equal:
        --top;
        top[-1] = compare<Operator::not_equal>(top[-1], top[0]);
        break;
      case Op::less:
        --top;
        top[-1] = compare<Operator::less>(top[-1], top[0]);
        break;
      case Op::less_equal:
        --top;
        top[-1] = compare<Operator::less_equal>(top[-1], top[0]);
        break;
      case Op::greater:
        --top;
        top[-1] = compare<Operator::greater>(top[-1], top[0]);
        break;
      case Op::greater_equal:
        --top;
        top[-1] = compare<Operator::greater_equal>(top[-1], top[0]);
        break;
      case Op::equal_const: top[-1] = compare<Operator::equal>(top[-1], constants[in.a]); break;
      case Op::not_equal_const:
        top[-1] = compare<Operator::not_equal>(top[-1], constants[in.a]);
        break;
      case Op::less_const: top[-1] = compare<Operator::less>(top[-1], constants[in.a]); break;
      case Op::less_equal_const:
        top[-1] = compare<Operator::less_equal>(top[-1], constants[in.a]);
        break;
      case Op::greater_const: top[-1] = compare<Operator::greater>(top[-1], constants[in.a]); break;
      case Op::greater_equal_const:
        top[-1] = compare<Operator::greater_equal>(top[-1], constants[in.a]);
        break;
      case Op::negate:
        top[-1] = top[-1].kind == Kind::number ? number_slot(-top[-1].number) : null_slot();
        break;
      case Op::add:
        --top;
        top[-1] = arithmetic<Operator::add>(top[-1], top[0]);
        break;
      case Op::subtract:
        --top;
        top[-1] = arithmetic<Operator::subtract>(top[-1], top[0]);
        break;
      case Op::multiply:
        --top;
        top[-1] = arithmetic<Operator::multiply>(top[-1], top[0]);
        break;
      case Op::divide:
        --top;
        top[-1] = arithmetic<Operator::divide>(top[-1], top[0]);
        break;
      case Op::modulo:
        --top;
        top[-1] = arithmetic<Operator::modulo>(top[-1], top[0]);
        break;
      case Op::add_const: top[-1] = arithmetic<Operator::add>(top[-1], constants[in.a]); break;
      case Op::subtract_const:
        top[-1] = arithmetic<Operator::subtract>(top[-1], constants[in.a]);
        break;
      case Op::multiply_const:
        top[-1] = arithmetic<Operator::multiply>(top[-1], constants[in.a]);
        break;
      case Op::divide_const:
        top[-1] = arithmetic<Operator::divide>(top[-1], constants[in.a]);
        break;
      case Op::modulo_const:
        top[-1] = arithmetic<Operator::modulo>(top[-1], constants[in.a]);
        break;
      case Op::logical_not: top[-1] = logical_not(top[-1]); break;
      case Op::and_head:
        if (is_false(top[-1]))
          pc = begin + in.a;
        else if (top[-1].kind != Kind::boolean)
          top[-1] = null_slot();
        break;
      case Op::and_step:
        --top;
        if (is_false(top[0])) {
          top[-1] = bool_slot(false);
          pc = begin + in.a;
        } else if (top[0].kind != Kind::boolean) {
          top[-1] = null_slot();
        }
        break;
      case Op::or_head:
        if (is_true(top[-1]))
          pc = begin + in.a;
        else if (top[-1].kind != Kind::boolean)
          top[-1] = null_slot();
        break;
      case Op::or_step:
        --top;
        if (is_true(top[0])) {
          top[-1] = bool_slot(true);
          pc = begin + in.a;
        } else if (top[0].kind != Kind::boolean) {
          top[-1] = null_slot();
        }
        break;
      case Op::abs: top[-1] = math<Function::abs>(top[-1]); break;
      case Op::log10: top[-1] = math<Function::log10>(top[-1]); break;
      case Op::sqrt: top[-1] = math<Function::sqrt>(top[-1]); break;
      case Op::min:
        --top;
        top[-1] = math<Function::min>(top[-1], top[0]);
        break;
      case Op::max:
        --top;
        top[-1] = math<Function::max>(top[-1], top[0]);
        break;
      case Op::is_null: top[-1] = bool_slot(top[-1].kind == Kind::null); break;
      case Op::exists: *top++ = bool_slot(load(fields[in.a]).kind != Kind::null); break;
      case Op::absent: *top++ = bool_slot(load(fields[in.a]).kind == Kind::null); break;
    }
  }
  return stack[0];
}

}  // namespace

Value Program::eval(std::span<const Value> field_values) const {
  return to_value(run(*code_, field_values));
}

bool Program::test(std::span<const Value> field_values) const {
  return is_true(run(*code_, field_values));
}

std::string Program::disassemble() const {
  std::string out;
  for (size_t i = 0; i < code_->instructions.size(); ++i) {
    const Instruction& in = code_->instructions[i];
    out += std::to_string(i) + " " + std::string(kOpNames[static_cast<size_t>(in.op)]);
    auto constant_text = [&](uint32_t index) {
      return to_string(to_value(code_->constants[index]));
    };
    switch (in.op) {
      case Op::push_const: out += " " + constant_text(in.a); break;
      case Op::load_field:
      case Op::exists:
      case Op::absent: out += " " + code_->fields[in.a]; break;
      case Op::equal_const:
      case Op::not_equal_const:
      case Op::less_const:
      case Op::less_equal_const:
      case Op::greater_const:
      case Op::greater_equal_const:
      case Op::add_const:
      case Op::subtract_const:
      case Op::multiply_const:
      case Op::divide_const:
      case Op::modulo_const: out += " " + constant_text(in.a); break;
      case Op::field_equal:
      case Op::field_not_equal:
      case Op::field_less:
      case Op::field_less_equal:
      case Op::field_greater:
      case Op::field_greater_equal:
      case Op::field_equal_number:
      case Op::field_not_equal_number:
      case Op::field_less_number:
      case Op::field_less_equal_number:
      case Op::field_greater_number:
      case Op::field_greater_equal_number:
      case Op::field_equal_text:
      case Op::field_not_equal_text:
        out += " " + code_->fields[in.a] + " " + constant_text(in.b);
        break;
      case Op::and_head:
      case Op::and_step:
      case Op::or_head:
      case Op::or_step: out += " -> " + std::to_string(in.a); break;
      default: break;
    }
    out += "\n";
  }
  return out;
}

}  // namespace ebs::expr
