// Records as JSON (the jsonl sink, dead letters, `decode`, the HTTP API). Bytes fields are written
// as their length unless `with_bytes`, then as base64.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/model/record.h"
#include "engine/util/base64.h"

namespace ebs {

struct JsonOptions {
  bool with_bytes = false;
  bool with_raw = true;
};

nlohmann::json raw_to_json(const RawView& value, const JsonOptions& options = {});
nlohmann::json to_json(const Record& record, const JsonOptions& options = {});
nlohmann::json to_json(const Annotation& annotation);

// The inverse of to_json for alerts (with bytes written as base64: `with_bytes`), so dead letters
// can be replayed. A Fault (failed) naming `place` when the JSON is not an alert.
std::shared_ptr<const Alert> alert_from_json(const nlohmann::json& json, const std::string& place);
// An alert id in JSON: a string of decimal digits (as written; 64-bit ids do not fit JavaScript's
// numbers) or, from older writers, an integer. A Fault naming `place` otherwise.
int64_t alert_id_from_json(const nlohmann::json& value, const std::string& place);
// Any JSON value as a raw record tree (objects become records, arrays lists).
RawRecord raw_from_json(const nlohmann::json& json);

}  // namespace ebs
