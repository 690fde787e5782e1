// gzip-compressed bytes in memory (FITS sky maps, ZTF cutouts): the one inflater for every family.
// Inflation is always bounded (docs/reliability.md, "Limits"): a gzip bomb is a Fault naming its
// place, never gigabytes of memory.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ebs {

// The gzip magic (1f 8b) at the start.
bool is_gzip(std::string_view bytes);

// How much gunzip may produce. Data that declares its own size (a FITS file's headers) is cut at
// that size: `declared` sees the first `head_bytes` of output (all of it when shorter) and returns
// the size it declares. Output beyond `ceiling`, declared or not, is a `failed` Fault.
struct InflateLimit {
  std::size_t ceiling = 0;
  std::size_t head_bytes = 0;
  std::function<std::size_t(std::string_view head, const std::string& place)> declared;
};

// Ceilings of the gzip-compressed inputs (documented in docs/reliability.md).
inline constexpr std::size_t kCutoutInflateCeiling = std::size_t{4} << 20;    // a ZTF cutout: 63x63 px, ~20 KB
inline constexpr std::size_t kSkymapInflateCeiling = std::size_t{256} << 20;  // 12 NSIDE^2 px x columns
// A gzipped FITS catalogue is inflated in memory (as cfitsio would do itself, without a bound); a
// bigger one is read unzipped, in chunks.
inline constexpr std::size_t kCatalogInflateCeiling = std::size_t{1} << 30;

// A FITS file's size as its headers declare it: through the end of the first HDU that has data
// (a cutout's primary image, a sky map's table), whole 2880-byte records. Headers that do not end
// within `head`, or sizes that overflow, are a `failed` Fault at `place`.
std::size_t fits_declared_size(std::string_view head, const std::string& place);
// The limit for gzip-compressed FITS: cut at the declared size, never above `ceiling`.
InflateLimit fits_inflate_limit(std::size_t ceiling);
// The same for a FITS file of several HDUs (a catalogue's table after an empty primary, or any
// HDU a config names): the declared size runs through every HDU whose header lies in the head,
// up to the end of the first whose data reaches past it.
std::size_t fits_declared_size_of_hdus(std::string_view head, const std::string& place);
InflateLimit fits_hdus_inflate_limit(std::size_t ceiling);

// The inflated bytes; corrupt or truncated data, or more than `limit` allows, raise a `failed`
// Fault at `place`.
std::string gunzip(std::string_view bytes, const std::string& place, const InflateLimit& limit);

}  // namespace ebs
