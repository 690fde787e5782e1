// A Confluent-compatible schema registry client: GET {base_url}/schemas/ids/{id} returns
// {"schema": "<schema JSON as a string>"}. Schemas never change for an id, so each is fetched
// once and cached. A registry that does not answer raises a `disconnected` Fault (retry later);
// an id it does not know, or a malformed answer, raises `failed`.
//
// Neither kind of failure turns into one HTTP request per message:
//  - an id the registry answered 404 for is remembered for `unknown_id_ttl` (a producer may
//    register it later, so it is asked again after that), and its messages fail at once;
//  - after the registry failed to answer (connection refused, time-out, HTTP 5xx), every id not
//    yet cached fails at once, `disconnected`, for a back-off period that starts at
//    `retry_initial` and doubles per failed attempt up to `retry_max`; a success resets it.
//
// Thread-safe (one libcurl handle per request; the caches are locked).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/util/backoff.h"

namespace ebs::avro {

struct SchemaRegistryOptions {
  std::chrono::milliseconds timeout = std::chrono::seconds(10);          // per request
  std::chrono::milliseconds unknown_id_ttl = std::chrono::seconds(60);   // 404s remembered
  std::chrono::milliseconds retry_initial = std::chrono::milliseconds(500);
  std::chrono::milliseconds retry_max = std::chrono::seconds(30);
};

class SchemaRegistryClient {
 public:
  explicit SchemaRegistryClient(std::string base_url,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));
  SchemaRegistryClient(std::string base_url, SchemaRegistryOptions options);

  // The writer schema JSON registered under `id`.
  std::shared_ptr<const std::string> schema_text(uint32_t id);

  const std::string& base_url() const { return base_url_; }
  const SchemaRegistryOptions& options() const { return options_; }
  size_t fetches() const;  // HTTP requests made (a test of the caching)

 private:
  using Clock = std::chrono::steady_clock;
  struct Answer {
    enum class Outcome { schema, unknown_id, failed, unreachable } outcome;
    std::string text;  // the schema, or what went wrong
  };
  Answer fetch(const std::string& url) const;
  std::string url_for(uint32_t id) const;

  std::string base_url_;
  SchemaRegistryOptions options_;
  mutable std::mutex mutex_;
  std::map<uint32_t, std::shared_ptr<const std::string>> cache_;
  std::map<uint32_t, Clock::time_point> unknown_until_;  // negative cache: id -> ask again after
  Clock::time_point down_until_{};                       // back-off after a failure to answer
  Backoff backoff_;  // from options_.retry_initial to options_.retry_max
  std::string down_reason_;
  size_t fetches_ = 0;
};

}  // namespace ebs::avro
