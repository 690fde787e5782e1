// Error regions of neutrino and GRB localizations (GCN core/Localization.schema.json): a circle of
// radius r or an ellipse [a, b, PA] (semi-axes, position angle of the semi-major axis from North
// through East, degrees) holding `containment` of the probability (default 0.9).
//
// Geometry is exact on the sphere: a point's angular distance d and position angle θ from the
// centre give offsets x = d·cos(θ − PA) along the major axis and y = d·sin(θ − PA); the point is
// inside when (x/a)² + (y/b)² <= 1 (azimuthal-equidistant coordinates about the centre).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ebs::skymap {

struct ErrorRegion {
  double ra = 0;              // deg
  double dec = 0;             // deg
  double semi_major = 0;      // deg, at `containment`
  double semi_minor = 0;      // deg, at `containment`
  double position_angle = 0;  // deg, North through East
  double containment = 0.9;
  bool systematic_included = false;

  static ErrorRegion circle(double ra, double dec, double radius, double containment = 0.9);
  static ErrorRegion ellipse(double ra, double dec, double semi_major, double semi_minor,
                             double position_angle, double containment = 0.9);
  // From a GCN Localization object (ra, dec, ra_dec_error, containment_probability,
  // systematic_included). Faults name `place`.
  static ErrorRegion from_localization(const nlohmann::json& localization, const std::string& place);

  bool is_circle() const { return semi_major == semi_minor; }

  // Adds a systematic error in quadrature to both semi-axes, read at the same containment level,
  // and marks the region as including systematics. IceCube's notices carry statistical errors
  // only (`systematic_included: false`); the amount is a configuration choice (docs/skymaps.md).
  ErrorRegion with_systematic(double systematic_deg) const;
  // Semi-axes multiplied by `factor` (e.g. Fink-mm's 1.5 × the error radius).
  ErrorRegion scaled(double factor) const;
  // The same region at another containment level, with the axes scaled as for a 2-D Gaussian:
  // r_q = r_p · sqrt(ln(1 − q) / ln(1 − p)).
  ErrorRegion at_containment(double level) const;

  // (x/a)² + (y/b)² under the square root: <= 1 inside the region.
  double normalized_radius(double ra_deg, double dec_deg) const;
  bool contains(double ra_deg, double dec_deg) const { return normalized_radius(ra_deg, dec_deg) <= 1; }
  bool contains(double ra_deg, double dec_deg, double level) const {
    return at_containment(level).contains(ra_deg, dec_deg);
  }
};

// Angular distance (deg) between two positions, stable at all separations (Vincenty).
double angular_distance_deg(double ra1, double dec1, double ra2, double dec2);
// Position angle (deg, [0, 360)) of the second position seen from the first, North through East.
double position_angle_deg(double ra1, double dec1, double ra2, double dec2);

// A probability density on the sphere (per steradian) built from an error region, for joint
// likelihoods and overlap integrals.
//   gaussian: a 2-D Gaussian in the azimuthal-equidistant plane about the centre, σ = r /
//     sqrt(−2 ln(1 − p)) per axis, mapped to the sphere with its Jacobian d / sin d. The region's
//     own boundary then holds exactly the containment probability, for circles and ellipses.
//     This is gwcelery's Swift model (exp(−½(d/σ)²)) up to the Jacobian (1 + d²/6 + …).
//   fisher: a von Mises–Fisher density κ / (2π (1 − e^{−2κ})) · e^{κ (cos d − 1)} with κ solved so
//     that the circle of radius r holds exactly p; circles only.
enum class DensityModel { gaussian, fisher };
const char* to_string(DensityModel model);
DensityModel density_model_from_string(const std::string& name);

class RegionDensity {
 public:
  // `min_sigma_deg` floors σ (gwcelery uses 0.08° for Swift), for the Gaussian model.
  RegionDensity(const ErrorRegion& region, DensityModel model = DensityModel::gaussian,
                double min_sigma_deg = 0);

  double operator()(double ra_deg, double dec_deg) const;  // sr^-1
  DensityModel model() const { return model_; }
  double sigma_major_deg() const { return sigma_major_ * 57.29577951308232; }
  double sigma_minor_deg() const { return sigma_minor_ * 57.29577951308232; }
  double kappa() const { return kappa_; }
  const ErrorRegion& region() const { return region_; }
  // Radius (deg) around the centre outside which the density is negligible (< 1e-12 of the peak).
  double extent_deg() const;

 private:
  ErrorRegion region_;
  DensityModel model_;
  double sigma_major_ = 0;  // rad
  double sigma_minor_ = 0;  // rad
  double kappa_ = 0;
};

class Skymap;

// RAVEN's sky overlap of a sky map and an external localization given as a density:
// I = 4π ∫ ρ_map ρ_region dΩ / (N_map N_region), integrated numerically in polar coordinates
// about the region's centre (midpoint rule, `radial` × `azimuthal` samples out to extent_deg()).
// A uniform map gives 1; a region much smaller than the map's pixels gives the point value
// 4π ρ_map(centre) / N_map.
double overlap_integral(const Skymap& map, const RegionDensity& region, int radial = 400, int azimuthal = 180);

}  // namespace ebs::skymap
