#include "actors/sinks/dashboard/image_png.h"

#include <doctest/doctest.h>
#include <png.h>

#include "actors/sinks/dashboard/zscale.h"
#include "test/support/ztf_alerts.h"
#include "engine/util/fault.h"

namespace ebs::dashboard {

namespace {

struct Decoded {
  png_uint_32 width = 0, height = 0;
  int color_type = -1;
  std::vector<uint8_t> pixels;
};

// libpng's simplified reader, independent of the writer's code path.
Decoded decode_png(const std::string& png, bool grey) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
  Decoded d;
  d.width = image.width;
  d.height = image.height;
  d.color_type = image.format;
  image.format = grey ? PNG_FORMAT_GRAY : PNG_FORMAT_RGBA;
  d.pixels.resize(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, d.pixels.data(), 0, nullptr));
  return d;
}

}  // namespace

TEST_CASE("a real ZTF cutout becomes a zscale-stretched grey PNG, north up") {
  auto alerts = ebs::test::ztf_alerts("ztf/fink-20200101-v3.3", 1);
  REQUIRE(alerts.size() == 1);
  std::string_view bytes = ebs::test::cutout_bytes(*alerts[0], Cutout::Kind::science);
  FitsImage image = read_fits_image(bytes, "science");
  CHECK(image.width == 63);
  CHECK(image.height == 63);
  std::string png = cutout_png(bytes, "science");
  REQUIRE(png.size() > 8);
  CHECK(png.substr(1, 3) == "PNG");
  Decoded d = decode_png(png, true);
  CHECK(d.width == 63);
  CHECK(d.height == 63);
  // Pixel (col, row) of the PNG is FITS pixel (col, height - 1 - row), stretched by zscale.
  DisplayLimits l = zscale(image.pixels);
  for (long row : {0L, 31L, 62L})
    for (long col : {0L, 17L, 62L}) {
      float v = image.pixels[(62 - row) * 63 + col];
      double t = std::clamp((v - l.vmin) / (l.vmax - l.vmin), 0.0, 1.0) * 255;
      CHECK(std::abs(d.pixels[row * 63 + col] - t) <= 0.51);
    }
  // A stretch, not a blank: both ends of the grey range are used.
  CHECK(*std::min_element(d.pixels.begin(), d.pixels.end()) == 0);
  CHECK(*std::max_element(d.pixels.begin(), d.pixels.end()) == 255);
}

TEST_CASE("cutout bytes that are not FITS fail with the place") {
  CHECK_THROWS_WITH_AS(cutout_png("not a fits file at all", "alert 7 science cutout"),
                       doctest::Contains("alert 7 science cutout"), Fault);
  std::string gz("\x1f\x8b\x08\x00garbage", 12);
  CHECK_THROWS_WITH_AS(cutout_png(gz, "alert 8"), doctest::Contains("gzip"), Fault);
}

TEST_CASE("RGBA encoding round-trips through libpng") {
  std::vector<uint8_t> rgba = {255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 40};
  Decoded d = decode_png(encode_png(rgba, 2, 2, 4), false);
  CHECK(d.width == 2);
  CHECK(d.height == 2);
  CHECK(d.pixels == rgba);
}

}  // namespace ebs::dashboard
