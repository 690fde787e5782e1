#include "actors/common/skymap/error_region.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "actors/common/skymap/skymap.h"
#include "engine/util/fault.h"

namespace ebs::skymap {

namespace {

constexpr double pi = 3.141592653589793238462643383279502884;
constexpr double rad = pi / 180.0;

void check_region(const ErrorRegion& region, const std::string& place) {
  auto finite = [](double x) { return std::isfinite(x); };
  if (!finite(region.ra) || !finite(region.dec) || region.dec < -90 || region.dec > 90)
    fail(place, "centre must be a finite ra with dec in [-90, 90]");
  if (!(region.semi_major > 0) || !(region.semi_minor > 0) || !finite(region.semi_major) ||
      !finite(region.semi_minor) || region.semi_major > 180 || region.semi_minor > 180)
    fail(place, "error radii must be in (0, 180] degrees");
  if (!finite(region.position_angle)) fail(place, "position angle must be finite");
  if (!(region.containment > 0 && region.containment < 1))
    fail(place, "containment probability must be in (0, 1)");
}

// Radius scale factor of a 2-D Gaussian between containment p and q: r_q / r_p.
double gaussian_radius_ratio(double p, double q) {
  return std::sqrt(std::log1p(-q) / std::log1p(-p));
}

// Probability inside a cap of angular radius r under a von Mises–Fisher density of concentration κ.
double fisher_cap_probability(double kappa, double radius_rad) {
  double one_minus_cos = 2 * std::pow(std::sin(radius_rad / 2), 2);
  return -std::expm1(-kappa * one_minus_cos) / -std::expm1(-2 * kappa);
}

}  // namespace

ErrorRegion ErrorRegion::circle(double ra, double dec, double radius, double containment) {
  return ellipse(ra, dec, radius, radius, 0, containment);
}

ErrorRegion ErrorRegion::ellipse(double ra, double dec, double semi_major, double semi_minor,
                                 double position_angle, double containment) {
  ErrorRegion region;
  region.ra = ra;
  region.dec = dec;
  region.semi_major = semi_major;
  region.semi_minor = semi_minor;
  region.position_angle = position_angle;
  region.containment = containment;
  check_region(region, "error region");
  return region;
}

ErrorRegion ErrorRegion::from_localization(const nlohmann::json& localization, const std::string& place) {
  if (!localization.is_object()) fail(place, "localization is not an object");
  auto number = [&](const char* key) -> double {
    auto it = localization.find(key);
    if (it == localization.end() || !it->is_number()) fail(place, std::string("missing number '") + key + "'");
    return it->get<double>();
  };
  ErrorRegion region;
  region.ra = number("ra");
  region.dec = number("dec");
  auto error = localization.find("ra_dec_error");
  if (error == localization.end() || error->is_null()) fail(place, "no ra_dec_error");
  if (error->is_number()) {
    region.semi_major = region.semi_minor = error->get<double>();
  } else if (error->is_array() && !error->empty() && error->size() <= 3) {
    for (const auto& value : *error)
      if (!value.is_number()) fail(place, "ra_dec_error holds a non-number");
    // Schema defaults: semi-minor = semi-major, position angle 0.
    region.semi_major = (*error)[0].get<double>();
    region.semi_minor = error->size() > 1 ? (*error)[1].get<double>() : region.semi_major;
    region.position_angle = error->size() > 2 ? (*error)[2].get<double>() : 0.0;
  } else {
    fail(place, "ra_dec_error is neither a radius nor [a, b, PA]");
  }
  if (auto it = localization.find("containment_probability"); it != localization.end() && !it->is_null()) {
    if (!it->is_number()) fail(place, "containment_probability is not a number");
    region.containment = it->get<double>();
  }
  if (auto it = localization.find("systematic_included"); it != localization.end() && it->is_boolean())
    region.systematic_included = it->get<bool>();
  check_region(region, place);
  return region;
}

ErrorRegion ErrorRegion::with_systematic(double systematic_deg) const {
  if (!(systematic_deg >= 0) || !std::isfinite(systematic_deg))
    fail("error region", "systematic error must be finite and >= 0");
  ErrorRegion out = *this;
  out.semi_major = std::min(180.0, std::hypot(semi_major, systematic_deg));
  out.semi_minor = std::min(180.0, std::hypot(semi_minor, systematic_deg));
  out.systematic_included = true;
  return out;
}

ErrorRegion ErrorRegion::scaled(double factor) const {
  if (!(factor > 0) || !std::isfinite(factor)) fail("error region", "scale factor must be > 0");
  ErrorRegion out = *this;
  out.semi_major = std::min(180.0, semi_major * factor);
  out.semi_minor = std::min(180.0, semi_minor * factor);
  return out;
}

ErrorRegion ErrorRegion::at_containment(double level) const {
  if (!(level > 0 && level < 1)) fail("error region", "containment level must be in (0, 1)");
  ErrorRegion out = scaled(gaussian_radius_ratio(containment, level));
  out.containment = level;
  return out;
}

double angular_distance_deg(double ra1, double dec1, double ra2, double dec2) {
  double d_ra = (ra2 - ra1) * rad;
  double s1 = std::sin(dec1 * rad), c1 = std::cos(dec1 * rad);
  double s2 = std::sin(dec2 * rad), c2 = std::cos(dec2 * rad);
  double num1 = c2 * std::sin(d_ra);
  double num2 = c1 * s2 - s1 * c2 * std::cos(d_ra);
  double denominator = s1 * s2 + c1 * c2 * std::cos(d_ra);
  return std::atan2(std::hypot(num1, num2), denominator) / rad;
}

double position_angle_deg(double ra1, double dec1, double ra2, double dec2) {
  double d_ra = (ra2 - ra1) * rad;
  double y = std::sin(d_ra) * std::cos(dec2 * rad);
  double x = std::cos(dec1 * rad) * std::sin(dec2 * rad) -
             std::sin(dec1 * rad) * std::cos(dec2 * rad) * std::cos(d_ra);
  double angle = std::atan2(y, x) / rad;
  return angle < 0 ? angle + 360 : angle;
}

double ErrorRegion::normalized_radius(double ra_deg, double dec_deg) const {
  double d = angular_distance_deg(ra, dec, ra_deg, dec_deg);
  if (is_circle()) return d / semi_major;
  double phi = (position_angle_deg(ra, dec, ra_deg, dec_deg) - position_angle) * rad;
  double x = d * std::cos(phi) / semi_major;
  double y = d * std::sin(phi) / semi_minor;
  return std::hypot(x, y);
}

const char* to_string(DensityModel model) {
  return model == DensityModel::fisher ? "fisher" : "gaussian";
}

DensityModel density_model_from_string(const std::string& name) {
  if (name == "gaussian") return DensityModel::gaussian;
  if (name == "fisher") return DensityModel::fisher;
  fail("density model", "unknown density model '" + name + "' (gaussian, fisher)");
}

RegionDensity::RegionDensity(const ErrorRegion& region, DensityModel model, double min_sigma_deg)
    : region_(region), model_(model) {
  check_region(region, "error region");
  double k = std::sqrt(-2 * std::log1p(-region.containment));
  sigma_major_ = std::max(region.semi_major / k, min_sigma_deg) * rad;
  sigma_minor_ = std::max(region.semi_minor / k, min_sigma_deg) * rad;
  if (model == DensityModel::fisher) {
    if (!region.is_circle())
      unimplemented("error region", "the Fisher density is defined for circles; use gaussian for ellipses");
    double radius = region.semi_major * rad;
    double uniform = fisher_cap_probability(1e-12, radius);
    if (region.containment <= uniform)
      fail("error region", "a Fisher density cannot hold less than the uniform share of the circle");
    // The cap probability rises monotonically with κ: bisect on log κ.
    double lo = std::log(1e-10), hi = std::log(1e12);
    for (int i = 0; i < 200; ++i) {
      double mid = 0.5 * (lo + hi);
      if (fisher_cap_probability(std::exp(mid), radius) < region.containment) lo = mid;
      else hi = mid;
    }
    kappa_ = std::exp(0.5 * (lo + hi));
  }
}

double RegionDensity::operator()(double ra_deg, double dec_deg) const {
  double d = angular_distance_deg(region_.ra, region_.dec, ra_deg, dec_deg) * rad;
  if (model_ == DensityModel::fisher) {
    double one_minus_cos = 2 * std::pow(std::sin(d / 2), 2);
    return kappa_ / (2 * pi * -std::expm1(-2 * kappa_)) * std::exp(-kappa_ * one_minus_cos);
  }
  double x = d, y = 0;
  if (!region_.is_circle() || sigma_major_ != sigma_minor_) {
    double phi = (position_angle_deg(region_.ra, region_.dec, ra_deg, dec_deg) - region_.position_angle) * rad;
    x = d * std::cos(phi);
    y = d * std::sin(phi);
  }
  double sin_d = std::sin(d);
  // Jacobian of the azimuthal-equidistant map; the antipode itself has measure zero.
  double jacobian = d < 1e-8 ? 1.0 : (sin_d > 1e-12 ? d / sin_d : 0.0);
  double u = x / sigma_major_, v = y / sigma_minor_;
  return std::exp(-0.5 * (u * u + v * v)) / (2 * pi * sigma_major_ * sigma_minor_) * jacobian;
}

double RegionDensity::extent_deg() const {
  double extent = 0;
  if (model_ == DensityModel::fisher) {
    // e^{-κ(1 − cos r)} = 1e-12
    double one_minus_cos = 27.631021115928547 / kappa_;
    extent = one_minus_cos >= 2 ? pi : std::acos(1 - one_minus_cos);
  } else {
    extent = 7.4338 * std::max(sigma_major_, sigma_minor_);  // e^{-x²/2} = 1e-12 at x = 7.43
  }
  return std::min(extent, pi) / rad;
}

namespace {
// The point at angular distance d (rad) and position angle pa (rad) from (ra, dec) (deg).
std::pair<double, double> offset_position(double ra, double dec, double d, double pa) {
  double s = std::sin(dec * rad), c = std::cos(dec * rad);
  double sin_lat = std::clamp(s * std::cos(d) + c * std::sin(d) * std::cos(pa), -1.0, 1.0);
  double lat = std::asin(sin_lat);
  double lon = ra * rad + std::atan2(std::sin(pa) * std::sin(d) * c, std::cos(d) - s * sin_lat);
  return {lon / rad, lat / rad};
}
}  // namespace

double overlap_integral(const Skymap& map, const RegionDensity& density, int radial, int azimuthal) {
  if (radial < 1 || azimuthal < 1) fail("overlap", "need at least one sample per axis");
  const ErrorRegion& region = density.region();
  double extent = density.extent_deg() * rad;
  double dd = extent / radial, dphi = 2 * pi / azimuthal;
  double joint = 0, region_norm = 0;
  for (int i = 0; i < radial; ++i) {
    double d = (i + 0.5) * dd;
    double weight = std::sin(d) * dd * dphi;
    for (int j = 0; j < azimuthal; ++j) {
      auto [ra, dec] = offset_position(region.ra, region.dec, d, (j + 0.5) * dphi);
      double rho = density(ra, dec) * weight;
      region_norm += rho;
      joint += rho * map.probdensity(ra, dec);
    }
  }
  // The region's own normalisation is taken on the same samples, so discretisation cancels.
  return 4 * pi * joint / (region_norm * map.integral());
}

}  // namespace ebs::skymap
