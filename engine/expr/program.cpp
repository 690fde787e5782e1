// The evaluator of compiled filter expressions (the compiler is compiler.cpp).
#include "engine/expr/program.h"

#include <cmath>
#include <cstdint>

#include "engine/expr/bytecode.h"
#include "engine/util/fault.h"

namespace ebs::expr {

using namespace bytecode;

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
