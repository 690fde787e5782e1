#include "actors/common/avro/schema_registration.h"

#include <curl/curl.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "engine/util/fault.h"

namespace ebs::kafka {

namespace {

size_t append_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() > (1u << 20)) return 0;  // an id answer is tiny: abort a runaway transfer
  body->append(data, size * count);
  return size * count;
}

}  // namespace

uint32_t register_schema(const std::string& registry_url, const std::string& subject, const std::string& schema_json,
                         std::chrono::milliseconds timeout) {
  static const bool initialized = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)initialized;
  std::string base = registry_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) fail(base, "cannot create an HTTP client");
  std::unique_ptr<char, void (*)(void*)> escaped(curl_easy_escape(curl.get(), subject.c_str(), static_cast<int>(subject.size())), curl_free);
  std::string url = base + "/subjects/" + escaped.get() + "/versions";
  std::string request = nlohmann::json{{"schema", schema_json}}.dump();
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/vnd.schemaregistry.v1+json");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, request.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(request.size()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) disconnected(url, std::string("schema registry unreachable: ") + (error[0] ? error : curl_easy_strerror(code)));
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status >= 500) disconnected(url, "schema registry answered HTTP " + std::to_string(status) + ": " + body);
  if (status != 200) fail(url, "schema registry refused the schema (HTTP " + std::to_string(status) + "): " + body);
  auto answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("id") || !answer["id"].is_number_unsigned())
    fail(url, "schema registry answer has no \"id\": " + body);
  return answer["id"].get<uint32_t>();
}

}  // namespace ebs::kafka
