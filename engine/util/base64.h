// Base64 (RFC 4648, standard alphabet): bytes in JSON (dead letters, `--with-bytes`), FITS files
// inside GCN notices.
#pragma once

#include <string>
#include <string_view>

namespace ebs {

std::string base64_encode(std::string_view bytes);
// Strict: line breaks and blanks are skipped; any other character outside the alphabet, data
// after padding, or a length that is not a whole number of 4-character groups is a Fault
// (failed) naming `place` and the offset.
std::string base64_decode(std::string_view text, const std::string& place);

}  // namespace ebs
