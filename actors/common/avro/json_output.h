// RawRecord -> one line of JSON, in the spirit of `avro-tools tojson`, but plain: union values
// are not wrapped in {"type": value} (a RawRecord keeps the chosen branch's value only).
// Records are objects in schema field order, arrays are arrays, maps are arrays of
// {"key": ..., "value": ...}. Bytes/fixed print as their length, or as base64 strings when
// `with_bytes`. Non-finite doubles print as the strings "NaN", "Infinity", "-Infinity";
// invalid UTF-8 in strings is replaced by U+FFFD.
#pragma once

#include <string>

#include "engine/model/raw_record.h"

namespace ebs::avro {

std::string to_json(const RawRecord& record, bool with_bytes);
void append_json(RawView value, bool with_bytes, std::string& out);

}  // namespace ebs::avro
