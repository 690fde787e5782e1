#include "actors/common/fits/fits_image.h"

#include <fitsio.h>

#include <cmath>
#include <memory>

#include "actors/common/gzip.h"
#include "engine/util/fault.h"

namespace ebs {

namespace {

std::string fits_error(int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  return text;
}

}  // namespace

FitsImage read_fits_image(std::string_view bytes, const std::string& place) {
  std::string inflated = is_gzip(bytes) ? gunzip(bytes, place, fits_inflate_limit(kCutoutInflateCeiling)) : std::string(bytes);
  void* memory = inflated.data();
  size_t size = inflated.size();
  fitsfile* file = nullptr;
  int status = 0;
  if (fits_open_memfile(&file, "cutout", READONLY, &memory, &size, 0, nullptr, &status))
    fail(place, "not a FITS file: " + fits_error(status));
  std::unique_ptr<fitsfile, void (*)(fitsfile*)> closer(file, [](fitsfile* f) {
    int s = 0;
    fits_close_file(f, &s);
  });
  int naxis = 0;
  long axes[2] = {0, 0};
  if (fits_get_img_dim(file, &naxis, &status) || naxis != 2)
    fail(place, "the primary HDU is not a 2-D image (NAXIS " + std::to_string(naxis) + ")");
  if (fits_get_img_size(file, 2, axes, &status)) fail(place, fits_error(status));
  FitsImage image;
  image.width = axes[0];
  image.height = axes[1];
  // The declared size must be in the bytes before anything is allocated for it.
  if (axes[0] <= 0 || axes[1] <= 0 || axes[0] > static_cast<long>(size) || axes[1] > static_cast<long>(size) ||
      static_cast<size_t>(axes[0]) * static_cast<size_t>(axes[1]) > size)
    fail(place, "the image declares " + std::to_string(axes[0]) + "x" + std::to_string(axes[1]) +
                    " pixels, more than its " + std::to_string(size) + " bytes hold");
  image.pixels.resize(static_cast<size_t>(axes[0] * axes[1]));
  long first[2] = {1, 1};
  float nan = NAN;
  int any_null = 0;
  if (fits_read_pix(file, TFLOAT, first, static_cast<LONGLONG>(image.pixels.size()), &nan, image.pixels.data(),
                    &any_null, &status))
    fail(place, "cannot read the image: " + fits_error(status));
  return image;
}

}  // namespace ebs
