// Base64 decoding (RFC 4648, standard alphabet) for FITS files embedded in GCN notices
// (`event.skymap`, `healpix_file`). Decoding is done by OpenSSL's EVP decoder; this wrapper makes
// it strict: line breaks and blanks are skipped, anything else outside the alphabet, data after
// padding or a length that is not a whole number of quanta is an error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::coincidence {

// Decodes `text`; on bad input raises ebs::Fault (failed) with `place` and the offending offset.
std::vector<std::uint8_t> decode_base64(std::string_view text, const std::string& place);

}  // namespace ebs::coincidence
