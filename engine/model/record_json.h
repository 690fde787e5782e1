// Records as JSON (the jsonl sink, dead letters, `decode`, the HTTP API). Bytes fields are written
// as their length unless `with_bytes`, then as base64.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/model/record.h"

namespace ebs {

struct JsonOptions {
  bool with_bytes = false;
  bool with_raw = true;
};

nlohmann::json raw_to_json(const RawView& value, const JsonOptions& options = {});
nlohmann::json to_json(const Record& record, const JsonOptions& options = {});
nlohmann::json to_json(const Annotation& annotation);
std::string base64_encode(std::string_view bytes);

}  // namespace ebs
