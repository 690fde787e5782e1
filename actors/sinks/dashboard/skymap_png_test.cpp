#include "actors/sinks/dashboard/skymap_png.h"

#include <doctest/doctest.h>
#include <png.h>

#include <cmath>

#include "actors/common/skymap/skymap.h"
#include "test/support/test_data.h"

namespace ebs::dashboard {

TEST_CASE("inverse Mollweide: centre, poles, edges, outside") {
  auto centre = mollweide_inverse(0, 0);
  REQUIRE(centre);
  CHECK(centre->first == doctest::Approx(180));
  CHECK(centre->second == doctest::Approx(0));
  auto north = mollweide_inverse(0, 1);
  REQUIRE(north);
  CHECK(north->second == doctest::Approx(90));
  // RA increases to the left: the left edge of the equator is RA 360, the right edge RA 0.
  auto left = mollweide_inverse(-0.999999, 0);
  auto right = mollweide_inverse(0.999999, 0);
  CHECK(left->first == doctest::Approx(360).epsilon(1e-3));
  CHECK(right->first == doctest::Approx(0).epsilon(1e-3));
  // Half-way up the ellipse: sin(theta) = 0.5 -> dec = asin((2 theta + sin 2 theta) / pi).
  double theta = std::asin(0.5);
  CHECK(mollweide_inverse(0, 0.5)->second ==
        doctest::Approx(std::asin((2 * theta + std::sin(2 * theta)) / M_PI) * 180 / M_PI));
  CHECK(!mollweide_inverse(0.8, 0.8));
}

TEST_CASE("the MS220722v map renders with its brightest pixel where the map peaks") {
  auto map = skymap::Skymap::from_file((test::data_dir() / "skymaps/MS220722v_bayestar.multiorder.fits").string());
  std::string png = mollweide_png(map, 360);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
  CHECK(image.width == 360);
  CHECK(image.height == 180);
  image.format = PNG_FORMAT_RGBA;
  std::vector<uint8_t> px(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, px.data(), 0, nullptr));
  // Corners are outside the sky (transparent), the centre inside (opaque).
  CHECK(px[3] == 0);
  CHECK(px[(90 * 360 + 180) * 4 + 3] == 255);
  // The yellowest pixel (viridis top: high red + green, low blue) lies where the density peaks.
  size_t best = 0;
  int best_score = -1;
  for (size_t i = 0; i < px.size() / 4; ++i) {
    int score = px[i * 4] + px[i * 4 + 1] - px[i * 4 + 2];
    if (px[i * 4 + 3] == 255 && score > best_score) best_score = score, best = i;
  }
  auto sky = mollweide_inverse((best % 360 + 0.5) / 360 * 2 - 1, 1 - (best / 360 + 0.5) / 180 * 2);
  REQUIRE(sky);
  double peak_density = map.ranked_probdensity()[0];
  CHECK(map.probdensity(sky->first, sky->second) >= 0.5 * peak_density);
}

}  // namespace ebs::dashboard
