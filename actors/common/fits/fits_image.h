// The primary image of a FITS file held in memory (gzip-compressed or plain), read with cfitsio:
// ZTF's and Rubin's cutouts. The dashboard draws them; the ML scorers feed them to networks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ebs {

struct FitsImage {
  long width = 0, height = 0;
  std::vector<float> pixels;  // row-major, FITS order: row 0 is the bottom of the image; BSCALE/BZERO applied
};

// Inflated first if gzip-compressed. `place` names the image in faults (not FITS, not a 2-D
// image, a declared size its bytes cannot hold).
FitsImage read_fits_image(std::string_view bytes, const std::string& place);

}  // namespace ebs
