// A Confluent-compatible schema registry client: GET {base_url}/schemas/ids/{id} returns
// {"schema": "<schema JSON as a string>"}. Schemas never change for an id, so each is fetched
// once and cached. A registry that does not answer raises a `disconnected` Fault (retry later);
// an id it does not know, or a malformed answer, raises `failed`.
//
// Thread-safe (one libcurl handle per request; the cache is locked).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ebs::avro {

class SchemaRegistryClient {
 public:
  explicit SchemaRegistryClient(std::string base_url,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The writer schema JSON registered under `id`.
  std::shared_ptr<const std::string> schema_text(uint32_t id);

  const std::string& base_url() const { return base_url_; }
  size_t fetches() const;  // HTTP requests made (a test of the caching)

 private:
  std::string fetch(uint32_t id) const;

  std::string base_url_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::map<uint32_t, std::shared_ptr<const std::string>> cache_;
  size_t fetches_ = 0;
};

}  // namespace ebs::avro
