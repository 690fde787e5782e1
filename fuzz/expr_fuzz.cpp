// Filter expressions (the `filter` actor's `expr`, `ebs-flow expr check`): lexed and parsed.
#include "engine/expr/parser.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) { (void)ebs::expr::parse(bytes); }
