// Percent-encoding (RFC 3986): every byte but the unreserved characters (ALPHA, DIGIT, '-', '.',
// '_', '~') as %XX. Safe as one path segment, a query value or a form field: a name with '?', '#',
// '%' or '/' stays one value.
#pragma once

#include <string>
#include <string_view>

namespace ebs {

std::string percent_encoded(std::string_view text);

}  // namespace ebs
