// Filters as users write them, for the `filters` tests and bench (docs/filters.md, "Scale"): each
// a conjunction of 2-5 cuts "field OP threshold" over 12 fields common to ZTF alerts, with its own
// random thresholds drawn over each field's usual range and rounded as a person would type them.
// Seeded: the same seed gives the same filters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ebs {

std::vector<std::string> generated_user_filters(size_t count, uint64_t seed);

}  // namespace ebs
