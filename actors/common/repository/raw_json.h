// A raw survey record written straight to JSON text, for alerts.raw. Same values as
// engine/model/record_json.h `raw_to_json` (bytes as their length, NaN and infinities as null),
// fields in schema order, but without building a JSON tree first: the tree costs more than
// everything else the repository does per alert.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "engine/model/raw_record.h"

namespace ebs::repository {

// Appends `value` as JSON to `out`.
void append_raw_json(std::string& out, const RawView& value);
// Appends a record's JSON without the top-level fields named in `exclude`.
void append_raw_json(std::string& out, const RawView& record, const std::unordered_set<std::string_view>& exclude);

}  // namespace ebs::repository
