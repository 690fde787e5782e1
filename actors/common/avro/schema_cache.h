// Writer-schema text -> compiled decode plan. ZTF embeds 23-25 KB of schema in every message and
// parsing it costs ~100x decoding the record, so plans are cached by the exact schema bytes
// (hash + full compare; a canonical fingerprint would need the very parse it is meant to avoid).
//
// Thread-safe: one cache can serve every decoder thread. Plans are immutable and shared.
// The cache holds at most `capacity` schemas; past that it starts afresh (a stream does not use
// more than a handful; a hostile one must not grow memory without bound).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/common/avro/decode_plan.h"

namespace ebs::avro {

class SchemaCache {
 public:
  explicit SchemaCache(size_t capacity = 256) : capacity_(capacity) {}

  // The plan for `schema_json`, compiled on first use. `place` names the input in errors
  // (an invalid schema raises a `failed` Fault and is not cached).
  std::shared_ptr<const DecodePlan> plan_for(std::string_view schema_json, std::string_view place);

  size_t size() const;
  size_t compilations() const;  // how many schemas were compiled (a test of the caching)

 private:
  struct Entry {
    std::string schema;
    std::shared_ptr<const DecodePlan> plan;
  };
  size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<Entry>> entries_;  // hash -> schemas with that hash
  size_t count_ = 0;
  size_t compilations_ = 0;
};

}  // namespace ebs::avro
