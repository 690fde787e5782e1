// Images for the page: FITS cutouts (gzip-compressed or plain, read from memory with cfitsio)
// stretched with zscale to 8-bit grey PNGs, and PNG encoding itself (libpng).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ebs::dashboard {

struct FitsImage {
  long width = 0, height = 0;
  std::vector<float> pixels;  // row-major, FITS order: row 0 is the bottom of the image
};

// The primary image of a FITS file in memory (inflated first if gzip-compressed). `place` names
// the image in faults.
FitsImage read_fits_image(std::string_view bytes, const std::string& place);

// 8-bit PNG of `pixels` (rows top to bottom): channels 1 (grey) or 4 (RGBA).
std::string encode_png(const std::vector<uint8_t>& pixels, long width, long height, int channels);

// A cutout as the page shows it: zscale stretch, north up (FITS row 0 at the bottom), NaN black.
std::string cutout_png(std::string_view fits_bytes, const std::string& place);

}  // namespace ebs::dashboard
