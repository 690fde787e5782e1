#include "actors/common/avro/schema_cache.h"

#include <functional>

namespace ebs::avro {

std::shared_ptr<const DecodePlan> SchemaCache::plan_for(std::string_view schema_json,
                                                        std::string_view place) {
  size_t hash = std::hash<std::string_view>{}(schema_json);
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(hash); it != entries_.end())
      for (const Entry& e : it->second)
        if (e.schema == schema_json) return e.plan;
  }
  // Compile outside the lock: other threads keep decoding with the plans they have.
  auto plan = DecodePlan::compile(schema_json, place);
  std::lock_guard lock(mutex_);
  ++compilations_;
  auto& bucket = entries_[hash];
  for (const Entry& e : bucket)
    if (e.schema == schema_json) return e.plan;  // another thread was first
  if (count_ >= capacity_) {
    entries_.clear();
    count_ = 0;
  }
  entries_[hash].push_back(Entry{std::string(schema_json), plan});
  ++count_;
  return plan;
}

size_t SchemaCache::size() const {
  std::lock_guard lock(mutex_);
  return count_;
}

size_t SchemaCache::compilations() const {
  std::lock_guard lock(mutex_);
  return compilations_;
}

}  // namespace ebs::avro
