// A compiled filter expression, e.g.
//   candidate.drb > 0.8 and (mag < 19.5 or not exists(candidate.ssnamenr)) and abs(ra - 150) <= 2.5
//
// Compiled once (parse, type-check, fold constants, emit a small stack bytecode), then evaluated
// per record without allocating. The program knows nothing of record types: it lists the field
// paths it reads (fields()), and the caller passes their values in that order.
//
// Semantics (docs/expressions.md): a missing field is null; arithmetic, comparisons and functions
// with a null operand give null; `and`/`or`/`not` use three-valued logic; a record passes only
// when the result is true (null and false both filter it out). Numbers are doubles; NaN inputs,
// division by zero and results outside a function's domain are null.
//
// A Program is cheap to copy (it shares its immutable compiled code) and safe to evaluate from
// several threads at once.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/expr/compile_error.h"
#include "engine/expr/value.h"

namespace ebs::expr {

class Program {
 public:
  // Never throws on bad text: returns every error it can find (at least the first syntax error,
  // then all type and function errors of a well-formed expression).
  static std::variant<Program, std::vector<CompileError>> compile(std::string_view text);

  // Distinct field paths the expression reads, in order of first use; slot i = fields()[i].
  const std::vector<std::string>& fields() const;

  // field_values[i] is the value of fields()[i] (null when the record lacks it). Text views in
  // the result point into field_values or into this program. Throws ebs::Fault only when fewer
  // values than fields() are passed (a caller's bug).
  Value eval(std::span<const Value> field_values) const;

  // True only if eval(...) is the boolean true.
  bool test(std::span<const Value> field_values) const;

  std::string_view text() const;

  // The compiled bytecode, one instruction per line; for tests and debugging.
  std::string disassemble() const;

  struct Code;  // the compiled form, defined in bytecode.h

 private:
  explicit Program(std::shared_ptr<const Code> code) : code_(std::move(code)) {}
  std::shared_ptr<const Code> code_;
};

}  // namespace ebs::expr
