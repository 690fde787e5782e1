// Field names an actor reads (its type's `reads_fields`, or else the fields of its expression-
// valued config keys: filter's `where`, a plugin type's expression), checked at validate against
// what can reach it: the union of
// the fields of every survey profile its upstream sources may choose, plus the fields upstream
// actors add (scores). A name in none is an error with the nearest names; a name only some
// profiles have is a warning (records of the others read it as null). Names that cannot be
// checked (an upstream source or transform that does not declare its fields) are left alone.
#pragma once

#include <vector>

#include "engine/graph/workflow.h"

namespace ebs {

void check_field_names(const Workflow& workflow, std::vector<Problem>& errors, std::vector<Problem>& warnings);

// What an actor reads: its type's `reads_fields`, or else the fields of its expression-valued
// config keys. May throw on a config the check hook refuses.
std::vector<FieldRead> fields_read(const ActorSpec& actor);

// A field path as the check compares it: list indices dropped ("prv_candidates.0.jd" ->
// "prv_candidates.jd"), the optional "raw." prefix dropped.
std::string comparable_path(const std::string& path);

}  // namespace ebs
