#include "actors/sinks/dashboard/image_png.h"

#include <fitsio.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/common/gzip.h"
#include "actors/sinks/dashboard/zscale.h"
#include "engine/util/fault.h"

namespace ebs::dashboard {

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

std::string encode_png(const std::vector<uint8_t>& pixels, long width, long height, int channels) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) fail("png", "cannot start libpng");
  std::string out;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail("png", "libpng could not encode the image");
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(data), n);
      },
      nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  for (long row = 0; row < height; ++row)
    png_write_row(png, const_cast<png_bytep>(pixels.data() + row * width * channels));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

std::string cutout_png(std::string_view fits_bytes, const std::string& place) {
  FitsImage image = read_fits_image(fits_bytes, place);
  DisplayLimits limits = zscale(image.pixels);
  const double span = limits.vmax > limits.vmin ? limits.vmax - limits.vmin : 1;
  std::vector<uint8_t> grey(image.pixels.size());
  for (long row = 0; row < image.height; ++row) {
    const float* in = image.pixels.data() + (image.height - 1 - row) * image.width;  // north up
    uint8_t* out = grey.data() + row * image.width;
    for (long col = 0; col < image.width; ++col) {
      double v = (in[col] - limits.vmin) / span;
      out[col] = std::isfinite(v) ? static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255)) : 0;
    }
  }
  return encode_png(grey, image.width, image.height, 1);
}

}  // namespace ebs::dashboard
