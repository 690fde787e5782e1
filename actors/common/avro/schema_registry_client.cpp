#include "actors/common/avro/schema_registry_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/util/fault.h"

namespace ebs::avro {

namespace {

size_t append_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() > (64u << 20)) return 0;  // a schema is never this large: abort the transfer
  body->append(data, size * count);
  return size * count;
}

struct CurlHandle {
  CURL* handle = curl_easy_init();
  ~CurlHandle() { if (handle) curl_easy_cleanup(handle); }
};

}  // namespace

SchemaRegistryClient::SchemaRegistryClient(std::string base_url, std::chrono::milliseconds timeout)
    : SchemaRegistryClient(std::move(base_url), SchemaRegistryOptions{timeout}) {}

SchemaRegistryClient::SchemaRegistryClient(std::string base_url, SchemaRegistryOptions options)
    : base_url_(std::move(base_url)), options_(options), backoff_(options.retry_initial, options.retry_max) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  static const bool initialized = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)initialized;
}

std::string SchemaRegistryClient::url_for(uint32_t id) const {
  return base_url_ + "/schemas/ids/" + std::to_string(id);
}

std::shared_ptr<const std::string> SchemaRegistryClient::schema_text(uint32_t id) {
  std::string url = url_for(id);
  std::string unknown = "unknown schema id " + std::to_string(id);
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
    Clock::time_point now = Clock::now();
    if (auto it = unknown_until_.find(id); it != unknown_until_.end()) {
      if (now < it->second) ebs::fail(url, unknown);
      unknown_until_.erase(it);
    }
    if (now < down_until_) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
      ebs::disconnected(url, "schema registry unreachable: " + down_reason_ + " (next attempt in " +
                                 std::to_string(wait) + " ms)");
    }
    ++fetches_;
  }
  Answer answer = fetch(url);
  std::lock_guard lock(mutex_);
  Clock::time_point now = Clock::now();
  if (answer.outcome == Answer::Outcome::unreachable) {
    down_until_ = now + backoff_.next();
    down_reason_ = answer.text;
    ebs::disconnected(url, "schema registry unreachable: " + answer.text);
  }
  backoff_.reset();  // it answered
  down_until_ = {};
  if (answer.outcome == Answer::Outcome::unknown_id) {
    if (unknown_until_.size() >= 100000) unknown_until_.clear();  // bounded: a stream of random ids
    unknown_until_[id] = now + options_.unknown_id_ttl;
    ebs::fail(url, unknown);
  }
  if (answer.outcome == Answer::Outcome::failed) ebs::fail(url, answer.text);
  return cache_.emplace(id, std::make_shared<const std::string>(std::move(answer.text))).first->second;
}

size_t SchemaRegistryClient::fetches() const {
  std::lock_guard lock(mutex_);
  return fetches_;
}

SchemaRegistryClient::Answer SchemaRegistryClient::fetch(const std::string& url) const {
  using Outcome = Answer::Outcome;
  CurlHandle curl;
  if (!curl.handle) return {Outcome::failed, "cannot create an HTTP client"};
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  auto timeout = static_cast<long>(options_.timeout.count());
  curl_easy_setopt(curl.handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.handle, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl.handle, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.handle, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(curl.handle, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(curl.handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.handle, CURLOPT_FOLLOWLOCATION, 1L);
  CURLcode code = curl_easy_perform(curl.handle);
  if (code != CURLE_OK) {
    if (code == CURLE_WRITE_ERROR) return {Outcome::failed, "schema registry answer too large"};
    return {Outcome::unreachable, error[0] ? error : curl_easy_strerror(code)};
  }
  long status = 0;
  curl_easy_getinfo(curl.handle, CURLINFO_RESPONSE_CODE, &status);
  if (status == 404) return {Outcome::unknown_id, {}};
  if (status >= 500) return {Outcome::unreachable, "HTTP " + std::to_string(status)};
  if (status != 200) return {Outcome::failed, "schema registry answered HTTP " + std::to_string(status)};
  auto answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("schema") ||
      !answer["schema"].is_string())
    return {Outcome::failed, "schema registry answer has no \"schema\" string"};
  return {Outcome::schema, answer["schema"].get<std::string>()};
}

}  // namespace ebs::avro
