// Images for the page: FITS cutouts (gzip-compressed or plain, read from memory with cfitsio)
// stretched with zscale to 8-bit grey PNGs, and PNG encoding itself (libpng).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/common/fits/fits_image.h"

namespace ebs::dashboard {

using ebs::FitsImage;
using ebs::read_fits_image;

// 8-bit PNG of `pixels` (rows top to bottom): channels 1 (grey) or 4 (RGBA).
std::string encode_png(const std::vector<uint8_t>& pixels, long width, long height, int channels);

// A cutout as the page shows it: zscale stretch, north up (FITS row 0 at the bottom), NaN black.
std::string cutout_png(std::string_view fits_bytes, const std::string& place);

}  // namespace ebs::dashboard
