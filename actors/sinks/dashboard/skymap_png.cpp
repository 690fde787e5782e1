#include "actors/sinks/dashboard/skymap_png.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "actors/common/skymap/skymap.h"
#include "actors/sinks/dashboard/image_png.h"

namespace ebs::dashboard {

namespace {

struct Rgb {
  double r, g, b;
};

// Nine stops of matplotlib's viridis.
Rgb viridis(double t) {
  static const Rgb stops[] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                              {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 8;
  int i = std::min(7, static_cast<int>(t));
  double f = t - i;
  return {stops[i].r + f * (stops[i + 1].r - stops[i].r), stops[i].g + f * (stops[i + 1].g - stops[i].g),
          stops[i].b + f * (stops[i + 1].b - stops[i].b)};
}

}  // namespace

std::optional<std::pair<double, double>> mollweide_inverse(double x, double y) {
  if (x * x + y * y > 1) return std::nullopt;
  const double theta = std::asin(y);  // y = sin(theta) on the unit-height ellipse
  const double lat = std::asin(std::clamp((2 * theta + std::sin(2 * theta)) / M_PI, -1.0, 1.0));
  const double c = std::cos(theta);
  const double lon = c > 1e-12 ? M_PI * x / c : 0;  // radians, [-pi, pi]
  double ra = 180 - lon * 180 / M_PI;
  ra = std::fmod(ra + 360, 360);
  return std::make_pair(ra, lat * 180 / M_PI);
}

std::string mollweide_png(const skymap::Skymap& map, int width) {
  const int height = width / 2;
  std::vector<double> density(static_cast<size_t>(width) * height, -1);
  double peak = 0;
  for (int row = 0; row < height; ++row)
    for (int col = 0; col < width; ++col) {
      double x = (col + 0.5) / width * 2 - 1, y = 1 - (row + 0.5) / height * 2;
      auto sky = mollweide_inverse(x, y);
      if (!sky) continue;
      double d = map.probdensity(sky->first, sky->second);
      density[static_cast<size_t>(row) * width + col] = d;
      peak = std::max(peak, d);
    }
  std::vector<uint8_t> rgba(density.size() * 4, 0);
  for (size_t i = 0; i < density.size(); ++i) {
    if (density[i] < 0) continue;  // outside the sky: transparent
    Rgb c = viridis(peak > 0 ? density[i] / peak : 0);
    rgba[i * 4] = static_cast<uint8_t>(c.r);
    rgba[i * 4 + 1] = static_cast<uint8_t>(c.g);
    rgba[i * 4 + 2] = static_cast<uint8_t>(c.b);
    rgba[i * 4 + 3] = 255;
  }
  return encode_png(rgba, width, height, 4);
}

}  // namespace ebs::dashboard
