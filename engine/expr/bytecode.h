// The bytecode of filter expressions, shared by the compiler (compiler.cpp) and the evaluator
// (program.cpp): the evaluator's value (Slot), the operations that both the evaluator and constant
// folding apply, the instruction set and the compiled form of a Program. Internal to engine/expr.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expr/parser.h"
#include "engine/expr/program.h"

namespace ebs::expr::bytecode {

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

inline Value to_value(const Slot& slot) {
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

// A binary operator on two slots: constant folding (compiler, ProgramSet) and the batch
// evaluation of ProgramSet use this one dispatch.
inline Slot apply_binary(Operator op, const Slot& a, const Slot& b) {
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

inline Op comparison_op(Operator op, Operands operands) {
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

inline Operator mirrored(Operator op) {
  switch (op) {
    case Operator::less: return Operator::greater;
    case Operator::less_equal: return Operator::greater_equal;
    case Operator::greater: return Operator::less;
    case Operator::greater_equal: return Operator::less_equal;
    default: return op;
  }
}

}  // namespace ebs::expr::bytecode

namespace ebs::expr {

struct Program::Code {
  std::string text;
  std::vector<std::string> fields;
  std::vector<bytecode::Slot> constants;
  std::vector<std::unique_ptr<std::string>> literal_texts;  // text constants point in here
  std::vector<bytecode::Instruction> instructions;
  size_t max_stack = 0;
};

}  // namespace ebs::expr
