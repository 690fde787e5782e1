// Workflow files: variable expansion, YAML (duplicate keys, UTF-8), the document's structure,
// then the graph check against an empty registry (every type unknown: the checks still run).
#include <vector>

#include "engine/graph/actor_registry.h"
#include "engine/graph/workflow.h"
#include "fuzz/fuzz_target.h"

EBS_FUZZ_ONE_INPUT(bytes) {
  std::vector<ebs::Problem> problems;
  auto document = ebs::parse_workflow_text(bytes, "fuzz.yaml", problems);
  if (document) {
    static const ebs::ActorRegistry registry;
    (void)ebs::build_workflow(*document, registry, problems);
  }
  for (const ebs::Problem& problem : problems) (void)ebs::format_problem(problem);
}
