#include "actors/common/catalog/sky_geometry.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/util/fault.h"

namespace ebs::catalog {

UnitVector unit_vector(double ra_deg, double dec_deg) {
  const double ra = ra_deg / kDegPerRad, dec = dec_deg / kDegPerRad;
  const double cos_dec = std::cos(dec);
  return {cos_dec * std::cos(ra), cos_dec * std::sin(ra), std::sin(dec)};
}

void to_ra_dec(const UnitVector& v, double& ra_deg, double& dec_deg) {
  ra_deg = std::atan2(v.y, v.x) * kDegPerRad;
  if (ra_deg < 0) ra_deg += 360.0;
  if (ra_deg >= 360.0) ra_deg -= 360.0;
  dec_deg = std::atan2(v.z, std::hypot(v.x, v.y)) * kDegPerRad;
}

double separation_rad(const UnitVector& a, const UnitVector& b) {
  const double cx = a.y * b.z - a.z * b.y;
  const double cy = a.z * b.x - a.x * b.z;
  const double cz = a.x * b.y - a.y * b.x;
  const double dot = a.x * b.x + a.y * b.y + a.z * b.z;
  return std::atan2(std::sqrt(cx * cx + cy * cy + cz * cz), dot);
}

double angular_separation_arcsec(double ra1_deg, double dec1_deg, double ra2_deg, double dec2_deg) {
  const double lon1 = ra1_deg / kDegPerRad, lat1 = dec1_deg / kDegPerRad;
  const double lon2 = ra2_deg / kDegPerRad, lat2 = dec2_deg / kDegPerRad;
  const double sdlon = std::sin(lon2 - lon1), cdlon = std::cos(lon2 - lon1);
  const double slat1 = std::sin(lat1), slat2 = std::sin(lat2);
  const double clat1 = std::cos(lat1), clat2 = std::cos(lat2);
  const double num1 = clat2 * sdlon;
  const double num2 = clat1 * slat2 - slat1 * clat2 * cdlon;
  const double denominator = slat1 * slat2 + clat1 * clat2 * cdlon;
  return std::atan2(std::hypot(num1, num2), denominator) * kArcsecPerRad;
}

UnitVector propagate_proper_motion(const UnitVector& p, double pmra_mas_per_yr,
                                   double pmdec_mas_per_yr, double years) {
  const double rho = std::hypot(p.x, p.y);
  // East and north unit vectors of the local tangent plane; at a pole any east will do.
  UnitVector east{0, 1, 0}, north{-1, 0, 0};
  if (rho > 0) {
    east = {-p.y / rho, p.x / rho, 0};
    north = {-p.z * p.x / rho, -p.z * p.y / rho, rho};
  }
  const double scale = years / (1000.0 * kArcsecPerRad);  // mas -> rad
  const double de = pmra_mas_per_yr * scale, dn = pmdec_mas_per_yr * scale;
  UnitVector moved{p.x + de * east.x + dn * north.x, p.y + de * east.y + dn * north.y,
                   p.z + de * east.z + dn * north.z};
  const double norm = std::sqrt(moved.x * moved.x + moved.y * moved.y + moved.z * moved.z);
  return {moved.x / norm, moved.y / norm, moved.z / norm};
}

}  // namespace ebs::catalog
