// The cone-search index of the repository: every alert and object row carries the NESTED HEALPix
// pixel of its position at order 16 (nside 65536, pixels of ~3.2 arcsec) in an indexed integer
// column. A cone becomes a few pixel ranges (`hpx BETWEEN lo AND hi`), found with healpix_cxx
// at an order coarse enough that the disc covers only a handful of pixels; rows in the ranges are
// then cut by their exact angular distance. Plain integer ranges work the same in PostgreSQL.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace ebs::repository {

inline constexpr int kSkyIndexOrder = 16;

// The order-16 NESTED pixel of (ra, dec) in degrees.
int64_t sky_pixel(double ra_deg, double dec_deg);

// Inclusive [first, last] order-16 pixel ranges that together cover the cone (a superset).
std::vector<std::pair<int64_t, int64_t>> cone_pixel_ranges(double ra_deg, double dec_deg, double radius_deg);

// Great-circle distance in degrees (haversine: accurate at arcsecond separations).
double angular_distance_deg(double ra1, double dec1, double ra2, double dec2);

}  // namespace ebs::repository
