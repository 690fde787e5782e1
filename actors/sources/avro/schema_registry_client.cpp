#include "actors/sources/avro/schema_registry_client.h"

#include <curl/curl.h>

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
    : base_url_(std::move(base_url)), timeout_(timeout) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  static const bool initialized = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)initialized;
}

std::shared_ptr<const std::string> SchemaRegistryClient::schema_text(uint32_t id) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  }
  auto text = std::make_shared<const std::string>(fetch(id));
  std::lock_guard lock(mutex_);
  ++fetches_;
  return cache_.emplace(id, std::move(text)).first->second;
}

size_t SchemaRegistryClient::fetches() const {
  std::lock_guard lock(mutex_);
  return fetches_;
}

std::string SchemaRegistryClient::fetch(uint32_t id) const {
  std::string url = base_url_ + "/schemas/ids/" + std::to_string(id);
  CurlHandle curl;
  if (!curl.handle) ebs::fail(url, "cannot create an HTTP client");
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl.handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.handle, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl.handle, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl.handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl.handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.handle, CURLOPT_FOLLOWLOCATION, 1L);
  CURLcode code = curl_easy_perform(curl.handle);
  if (code != CURLE_OK) {
    std::string why = error[0] ? error : curl_easy_strerror(code);
    if (code == CURLE_WRITE_ERROR) ebs::fail(url, "schema registry answer too large");
    ebs::disconnected(url, "schema registry unreachable: " + why);
  }
  long status = 0;
  curl_easy_getinfo(curl.handle, CURLINFO_RESPONSE_CODE, &status);
  if (status == 404) ebs::fail(url, "unknown schema id " + std::to_string(id));
  if (status >= 500) ebs::disconnected(url, "schema registry answered HTTP " + std::to_string(status));
  if (status != 200) ebs::fail(url, "schema registry answered HTTP " + std::to_string(status));
  auto answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("schema") ||
      !answer["schema"].is_string())
    ebs::fail(url, "schema registry answer has no \"schema\" string");
  return answer["schema"].get<std::string>();
}

}  // namespace ebs::avro
