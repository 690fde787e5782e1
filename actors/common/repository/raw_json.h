// A raw survey record written straight to JSON text, for alerts.raw. Same values as
// engine/model/record_json.h `raw_to_json` (bytes as their length, NaN and infinities as null),
// fields in schema order, but without building a JSON tree first: the tree costs more than
// everything else the repository does per alert.
#pragma once

#include <cstddef>
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

// alerts.raw's compact form, a BLOB: the record's values in schema order, each a tag byte and its
// bytes, the field names of each record shape once (the cluster wire's flat layout, 16 bytes a
// value and every node visited to leave fields out, was larger than the JSON and dearer to write:
// docs/performance.md). Version 1, numbers little-endian, counts as LEB128 varints:
//   byte 0   1, the version; then the root value, a tag and what follows it:
//   0 null, 1 false, 2 true, 3 int (zigzag varint), 4 double (8 bytes), 5 a double a float holds
//   exactly (4 bytes: Avro floats), 6 string (varint length, bytes), 7 list (varint count, values),
//   8 record of a shape given before (varint number, then its fields' values), 9 record of a new
//   shape, numbered from 0 as they come (varint length + name, varint field count, each field's
//   varint length + name, then the values).
// A Bytes value is stored as an int, its length: all the JSON keeps of it.
// Appends `record`'s compact form without the top-level fields in `exclude`; read back by
// append_stored_raw_json, it is the text append_raw_json writes, byte for byte.
void append_raw_compact(std::string& out, const RawView& record, const std::unordered_set<std::string_view>& exclude);

// alerts.raw as JSON text, appended to `out`: a BLOB (the compact form) as append_raw_json renders
// the record; a TEXT (JSON stored as such: rows written before, or with raw_format: json) as it
// is. A Fault naming `place` when a BLOB is not a compact record, or when its text would pass
// max_raw_json_bytes(stored.size()) (or `max_bytes`, when less): a reference to a shape given
// before repeats its field names, so a few bytes may otherwise stand for gigabytes of text.
void append_stored_raw_json(std::string& out, std::string_view stored, bool blob, std::string_view place);
void append_stored_raw_json(std::string& out, std::string_view stored, bool blob, std::string_view place,
                            size_t max_bytes);
// The most JSON text a compact alerts.raw of `stored_bytes` may read as: 64 bytes a stored byte,
// plus 1 MiB. Real rows read as far less (docs/repository.md gives the largest ratio measured).
size_t max_raw_json_bytes(size_t stored_bytes);

// Registers the SQL function raw_json(raw [, alert_id]) on a connection: the JSON text of
// alerts.raw whichever form the row holds (NULL stays NULL), so that SQL over a repository reads
// json_extract(raw_json(raw), '$.candidate.drb'). A damaged BLOB fails the statement with an error
// naming the alert when alert_id is given, as does a text longer than max_raw_json_bytes or than
// the connection's SQLITE_LIMIT_LENGTH.
void register_raw_json(sqlite3* db);

}  // namespace ebs::repository
