// A raw survey record written straight to JSON text, for alerts.raw. Same values as
// engine/model/record_json.h `raw_to_json` (bytes as their length, NaN and infinities as null),
// fields in schema order, but without building a JSON tree first: the tree costs more than
// everything else the repository does per alert.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

#include "engine/model/raw_record.h"

struct sqlite3;

namespace ebs::repository {

// Appends `value` as JSON to `out`.
void append_raw_json(std::string& out, const RawView& value);
// Appends a record's JSON without the top-level fields named in `exclude`.
void append_raw_json(std::string& out, const RawView& record, const std::unordered_set<std::string_view>& exclude);

// alerts.raw as JSON text, appended to `out`: a BLOB (the raw record laid flat, fields left out
// already: append_raw_flat, engine/model/record_wire.h) as append_raw_json renders the record; a
// TEXT (JSON stored as such: rows written before, or with raw_format: json) as it is. A Fault
// naming `place` when a BLOB is not a raw record.
void append_stored_raw_json(std::string& out, std::string_view stored, bool blob, std::string_view place);

// Registers the SQL function raw_json(raw [, alert_id]) on a connection: the JSON text of
// alerts.raw whichever form the row holds (NULL stays NULL), so that SQL over a repository reads
// json_extract(raw_json(raw), '$.candidate.drb'). A damaged BLOB fails the statement with an error
// naming the alert when alert_id is given.
void register_raw_json(sqlite3* db);

}  // namespace ebs::repository
