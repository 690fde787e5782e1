#include "engine/util/url_display.h"

namespace ebs {

std::string url_without_credentials(std::string_view url, std::string_view query_shown_as) {
  std::string out(url);
  const size_t scheme = out.find("://");
  const size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t path = out.find_first_of("/?#", host);
  const size_t at = out.rfind('@', path == std::string::npos ? out.size() : path);
  if (at != std::string::npos && at >= host) out.erase(host, at + 1 - host);
  if (const size_t query = out.find_first_of("?#", host); query != std::string::npos)
    out = out.substr(0, query) + std::string(query_shown_as);
  return out;
}

}  // namespace ebs
