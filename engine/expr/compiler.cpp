// Program::compile: parse, type-check, fold constants and emit bytecode (bytecode.h); the
// evaluator is program.cpp.
#include "engine/expr/program.h"

#include "engine/util/edit_distance.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "engine/expr/bytecode.h"
#include "engine/expr/parser.h"
#include "engine/util/fault.h"

namespace ebs::expr {

using namespace bytecode;

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

}  // namespace ebs::expr
