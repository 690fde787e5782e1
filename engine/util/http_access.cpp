#include "engine/util/http_access.h"

#include <arpa/inet.h>

#include <charconv>

#include "engine/util/fault.h"

namespace ebs::http_access {

Address parse_address(const std::string& address, const std::string& option) {
  const std::string place = option + " " + address;
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) fail(place, "expected HOST:PORT");
  std::string host = address.substr(0, colon), port_text = address.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port < 0 || port > 65535)
    fail(place, "'" + port_text + "' is not a port number");
  return {host, port};
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

std::optional<std::string> exposure_problem(const Address& address, const std::string& token,
                                            const std::string& option) {
  if (is_loopback(address.host) || !token.empty()) return std::nullopt;
  return option + " " + address.host + ":" + std::to_string(address.port) +
         ": serving beyond the loopback interface needs --token (requests then send "
         "'Authorization: Bearer TOKEN')";
}

bool authorized(const std::string& authorization_header, const std::string& token) {
  if (token.empty()) return true;
  const std::string expected = "Bearer " + token;
  unsigned char diff = authorization_header.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < authorization_header.size(); ++i)
    diff |= static_cast<unsigned char>(authorization_header[i] ^ expected[i % expected.size()]);
  return diff == 0;
}

std::string route(const std::string& path) {
  return path.starts_with("/") ? "/+" + path.substr(1) : path;
}

}  // namespace ebs::http_access
