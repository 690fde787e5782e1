// An instance's books as a node reports them to its coordinator: every half second while the run
// goes (the coordinator's progress line, `run --http` and drain bound read them there) and once
// at its end (the summary). The coordinator keeps them in its own copy of the graph, in the same
// counters a single-process run's instances write, so the same code reads both.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/runtime/local_graph.h"

namespace ebs::cluster {

// The counters, the sink's latency histogram, and — once the instance ended (its logic and stats
// are no longer touched) — its dead-letter reasons, fault, output and warnings.
nlohmann::json instance_books(const GraphInstance& inst, size_t index);

// Every instance's books of a node's report ({"instances": [...]}) into the coordinator's graph:
// each replaces what the instance's entry held.
void fill_books(LocalGraph& graph, const nlohmann::json& report);

}  // namespace ebs::cluster
