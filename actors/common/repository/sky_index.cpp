#include "actors/common/repository/sky_index.h"

#include <healpix_cxx/healpix_base.h>

#include <array>
#include <cmath>

namespace ebs::repository {

namespace {

constexpr double kDegree = M_PI / 180.0;

const Healpix_Base2& base_at(int order) {
  // healpix_cxx bases are immutable after construction: one per order, shared by every thread.
  static const std::array<Healpix_Base2, kSkyIndexOrder + 1> bases = [] {
    std::array<Healpix_Base2, kSkyIndexOrder + 1> b;
    for (int o = 0; o <= kSkyIndexOrder; ++o) b[static_cast<size_t>(o)].Set(o, NEST);
    return b;
  }();
  return bases[static_cast<size_t>(order)];
}

pointing direction(double ra_deg, double dec_deg) {
  return pointing((90.0 - dec_deg) * kDegree, std::fmod(std::fmod(ra_deg, 360.0) + 360.0, 360.0) * kDegree);
}

}  // namespace

int64_t sky_pixel(double ra_deg, double dec_deg) {
  return base_at(kSkyIndexOrder).ang2pix(direction(ra_deg, dec_deg));
}

std::vector<std::pair<int64_t, int64_t>> cone_pixel_ranges(double ra_deg, double dec_deg, double radius_deg) {
  // The finest order whose pixels are still about as large as the radius: the disc then touches
  // a few pixels, i.e. a few ranges at order 16.
  int order = kSkyIndexOrder;
  while (order > 0 && base_at(order).max_pixrad() < radius_deg * kDegree) --order;
  rangeset<int64> pixels;
  base_at(order).query_disc_inclusive(direction(ra_deg, dec_deg), radius_deg * kDegree, pixels);
  const int shift = 2 * (kSkyIndexOrder - order);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  ranges.reserve(pixels.nranges());
  for (size_t i = 0; i < pixels.nranges(); ++i)
    ranges.emplace_back(pixels.ivbegin(i) << shift, (pixels.ivend(i) << shift) - 1);
  return ranges;
}

double angular_distance_deg(double ra1, double dec1, double ra2, double dec2) {
  double d_dec = (dec2 - dec1) * kDegree;
  double d_ra = (ra2 - ra1) * kDegree;
  double a = std::sin(d_dec / 2) * std::sin(d_dec / 2) +
             std::cos(dec1 * kDegree) * std::cos(dec2 * kDegree) * std::sin(d_ra / 2) * std::sin(d_ra / 2);
  return 2 * std::asin(std::sqrt(std::min(1.0, a))) / kDegree;
}

}  // namespace ebs::repository
