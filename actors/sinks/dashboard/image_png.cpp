#include "actors/sinks/dashboard/image_png.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "actors/sinks/dashboard/zscale.h"
#include "engine/util/fault.h"

namespace ebs::dashboard {

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
