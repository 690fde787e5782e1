// Sky geometry for catalogue cross-matching: unit vectors, exact angular separations, proper-motion
// propagation and epochs. All angles in double precision.
#pragma once

#include <string_view>

#include "actors/common/angle_text.h"

namespace ebs::catalog {

inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kDegPerRad = 180.0 / kPi;
inline constexpr double kArcsecPerRad = 180.0 * 3600.0 / kPi;
inline constexpr double kMjdJ2000 = 51544.5;
inline constexpr double kDaysPerJulianYear = 365.25;

struct UnitVector {
  double x = 0, y = 0, z = 0;
};

UnitVector unit_vector(double ra_deg, double dec_deg);
// RA in [0, 360), Dec in [-90, 90].
void to_ra_dec(const UnitVector& v, double& ra_deg, double& dec_deg);

// atan2(|a x b|, a . b): accurate at every separation, unlike acos or the plain haversine.
double separation_rad(const UnitVector& a, const UnitVector& b);
// The Vincenty formula on (RA, Dec) in degrees, as astropy's SkyCoord.separation computes it.
double angular_separation_arcsec(double ra1_deg, double dec1_deg, double ra2_deg, double dec2_deg);

// Moves a source by its proper motion (pmra includes cos(dec), both mas/yr) over `years`: the Gaia
// epoch-propagation formula with zero parallax and radial velocity (a straight line in the tangent
// plane renormalised onto the sphere; docs/catalogs.md).
UnitVector propagate_proper_motion(const UnitVector& position, double pmra_mas_per_yr,
                                   double pmdec_mas_per_yr, double years);

// Julian epoch (e.g. 2016.0 for Gaia DR3) to MJD and back.
inline double mjd_from_julian_epoch(double julian_year) {
  return kMjdJ2000 + (julian_year - 2000.0) * kDaysPerJulianYear;
}
inline double julian_epoch_from_mjd(double mjd) {
  return 2000.0 + (mjd - kMjdJ2000) / kDaysPerJulianYear;
}

// Sexagesimal text: one parser for every family (actors/common/angle_text.h).
using ebs::parse_sexagesimal;

}  // namespace ebs::catalog
