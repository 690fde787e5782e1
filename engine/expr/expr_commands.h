// `ebs-flow expr check` and `ebs-flow expr eval`: try filter expressions from the command line.
#pragma once

#include "engine/cli/command_registry.h"

namespace ebs {

// expr check EXPRESSION [--bytecode]  compile; print the fields read (and the bytecode), or every
//                                     error as "expression:COLUMN: message" on stderr (exit 1).
// expr eval EXPRESSION                evaluate over JSON records, one per line on stdin; print
//                                     {"row", "result", "passes"} per record.
void register_expr_commands(CommandRegistry& registry);

}  // namespace ebs
