// A URL as messages show it: without what may be a secret in its user information
// (`user:password@`) or its query and fragment (tokens, `sslmode=...&password=...`).
#pragma once

#include <string>
#include <string_view>

namespace ebs {

// `url` without `user:password@` before its host, and with its query and fragment (from the first
// '?' or '#' after the host) replaced by `query_shown_as` ("?..." to say one was there, "" to drop
// it). A text without "://" is taken as starting at its host.
std::string url_without_credentials(std::string_view url, std::string_view query_shown_as);

}  // namespace ebs
