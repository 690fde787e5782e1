// Who may reach an HTTP server ebs-flow starts (`serve`, `run --http`): one policy for all of
// them. Loopback addresses are open; any other address needs a bearer token, which every request
// must then carry as `Authorization: Bearer TOKEN` (compared in constant time).
#pragma once

#include <optional>
#include <string>

namespace ebs::http_access {

struct Address {
  std::string host;  // without IPv6 brackets
  int port = 0;      // 0: any free port
};

// "host:port" ("[::1]:8080" for IPv6). Raises a Fault placed at `option address` otherwise.
Address parse_address(const std::string& address, const std::string& option = "--http");

// Whether `host` names the loopback interface (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

// Why serving on `address` with `token` is refused (a non-loopback address without a token),
// as a message for the user; nothing when it is allowed.
std::optional<std::string> exposure_problem(const Address& address, const std::string& token,
                                            const std::string& option = "--http");

// The route pattern (cpp-httplib matches a regex) for `path`, also matching when the leading
// slash is doubled: printed URLs end in '/', and "URL" + "/api/stats" must still answer.
std::string route(const std::string& path);

// Whether an Authorization header value grants access: always when `token` is empty, otherwise
// only "Bearer TOKEN" exactly (constant time in the header's length).
bool authorized(const std::string& authorization_header, const std::string& token);

}  // namespace ebs::http_access
