// gzip-compressed bytes in memory (FITS sky maps, ZTF cutouts): the one inflater for every family.
#pragma once

#include <string>
#include <string_view>

namespace ebs {

// The gzip magic (1f 8b) at the start.
bool is_gzip(std::string_view bytes);

// The inflated bytes; corrupt or truncated data raises a `failed` Fault at `place`.
std::string gunzip(std::string_view bytes, const std::string& place);

}  // namespace ebs
