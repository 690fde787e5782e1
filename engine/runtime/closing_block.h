// The few lines a run ends with: every output written (path, records), the dead letters (count,
// most frequent reasons, file, how to replay them), the failures and the warnings. What a user
// reads after a night's run to know what happened without opening --summary-json.
#pragma once

#include <string>

#include "engine/graph/workflow.h"
#include "engine/runtime/engine.h"

namespace ebs {

std::string closing_block(const Workflow& workflow, const RunResult& result);

}  // namespace ebs
