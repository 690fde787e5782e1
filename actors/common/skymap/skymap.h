// HEALPix probability sky maps of gravitational-wave (and other) localizations.
//
// Reads ligo.skymap's multi-order maps (ORDERING = NUNIQ: UNIQ, PROBDENSITY [sr^-1], optional
// DISTMU, DISTSIGMA [Mpc], DISTNORM [Mpc^-2]) and flat RING/NESTED maps (PROB per pixel, optional
// DIST* per pixel), from a file, from the bytes of a FITS file (e.g. base64-decoded from a GCN
// notice; gzip-compressed bytes are inflated first) or from an http(s) URL. A flat map is held as
// a multi-order map of one order.
//
// Lookups follow ligo.skymap's postprocess/crossmatch.py exactly: pixels ranked by descending
// density (ties: descending UNIQ, as numpy's structured sort then flip does), cumulative
// probability and area along that ranking; a position's pixel is found at the maximum order.
// Everything is precomputed at load, so a lookup is one ang2pix and one binary search.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

template <typename I>
class T_Healpix_Base;  // healpix_cxx

namespace ebs {
class FlatLambdaCDM;  // actors/common/cosmology.h
}

namespace ebs::skymap {

// Per-direction distance posterior of the "volume rendering" ansatz (Singer et al. 2016):
// p(r | direction) = norm · r² · N(r; mu, sigma). mu = +inf with norm = 0 (no support) and
// mu < 0 are legal values.
// HEALPix UNIQ scheme (uniq = ipix_nested + 4^(order+1)), shared by maps, MOCs and exports.
int uniq_order(std::uint64_t uniq);
std::uint64_t uniq_ipix(std::uint64_t uniq, int order);
std::uint64_t nest_to_uniq(int order, std::uint64_t ipix);
// Pixel area in sr, as ligo.skymap's uniq2pixarea: ldexp(π/3, -2·order).
double pixel_area(int order);
inline constexpr int max_healpix_order = 29;

struct DistanceAnsatz {
  double mu = 0;     // Mpc
  double sigma = 0;  // Mpc
  double norm = 0;   // Mpc^-2

  // Conditional density of the luminosity distance r (Mpc) at this direction, in Mpc^-1.
  double pdf(double distance_mpc) const;
  // Conditional density of redshift z under the given cosmology: pdf(D_L(z)) · dD_L/dz.
  double pdf_redshift(double z, const FlatLambdaCDM& cosmology) const;
  // Conditional mean and standard deviation of r (ligo.skymap distance.parameters_to_moments);
  // NaN where there is no support.
  double conditional_mean() const;
  double conditional_std() const;
};

struct SkymapHeader {
  std::string object;            // OBJECT: event id (e.g. M407349)
  std::string date_obs;          // DATE-OBS (UTC, ISO 8601)
  std::optional<double> mjd_obs; // MJD-OBS
  std::string instruments;       // INSTRUME, e.g. "H1,L1,V1"
  std::string creator;           // CREATOR, e.g. BAYESTAR
  std::string origin;            // ORIGIN
  std::string software_version;  // VCSVERS, e.g. "ligo.skymap 1.0.7"
  std::optional<double> distmean;  // DISTMEAN (Mpc)
  std::optional<double> diststd;   // DISTSTD (Mpc)
  std::optional<int> mocorder;     // MOCORDER
  std::optional<int> map_version;  // GraceDB file version ("bayestar.multiorder.fits,2"), if known
};

enum class SkymapOrdering { nuniq, ring, nested };
const char* to_string(SkymapOrdering ordering);

struct SkymapLookup {
  double probdensity = 0;     // sr^-1 at the position
  double searched_prob = 1;   // credible level at which the position is first enclosed
  double searched_area = 0;   // deg², area of that credible region
  bool covered = false;       // false: the map has no pixel here (partial map)
  std::optional<DistanceAnsatz> distance;  // when the map has DIST* columns

  bool in_credible_region(double level) const { return covered && searched_prob <= level; }
};

struct FetchOptions {
  long timeout_seconds = 60;
  long connect_timeout_seconds = 10;
};

class Skymap {
 public:
  // `source` names the map in faults: a path, a URL, a notice id.
  static Skymap from_file(const std::string& path);
  static Skymap from_bytes(std::span<const std::uint8_t> bytes, const std::string& source);
  static Skymap from_bytes(std::string_view bytes, const std::string& source) {
    return from_bytes({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, source);
  }
  static Skymap from_url(const std::string& url, const FetchOptions& options = {});

  // ra, dec in degrees (any ra; dec in [-90, 90]).
  SkymapLookup at(double ra_deg, double dec_deg) const;
  double probdensity(double ra_deg, double dec_deg) const;
  bool in_credible_region(double ra_deg, double dec_deg, double level) const {
    return at(ra_deg, dec_deg).in_credible_region(level);
  }

  // Area (deg²) of the smallest region holding `level` of the probability, interpolated like
  // crossmatch.py's contour_areas (np.interp over cumulative probability and area).
  double credible_area(double level) const;
  // Σ ρ ΔA over the map (1 for a normalised map).
  double integral() const { return cumulative_prob_.empty() ? 0 : cumulative_prob_.back(); }
  // Fraction of the sphere the map's pixels cover (1 for an all-sky map).
  double sky_coverage() const;
  // (RA, Dec) in degrees of the centre of the pixel with the highest probability density.
  std::pair<double, double> peak() const;

  const std::string& source() const { return source_; }
  SkymapOrdering ordering() const { return ordering_; }
  const SkymapHeader& header() const { return header_; }
  std::size_t rows() const { return ranked_uniq_.size(); }
  int min_order() const { return min_order_; }
  int max_order() const { return max_order_; }
  bool has_distance() const { return !ranked_distance_.empty(); }
  // Posterior mean and standard deviation of distance over the whole sky: from the header
  // (DISTMEAN/DISTSTD) when present, else from the ansatz (parameters_to_marginal_moments).
  std::optional<double> distance_mean() const;
  std::optional<double> distance_std() const;

  // Pixels in rank order (descending density): for overlap integrals and exports.
  std::span<const std::uint64_t> ranked_uniq() const { return ranked_uniq_; }
  std::span<const double> ranked_probdensity() const { return ranked_density_; }
  std::span<const DistanceAnsatz> ranked_distance() const { return ranked_distance_; }

  // Built from already-decoded columns (row order of the file). Validates them; `distance` is
  // empty or has one entry per row.
  static Skymap from_columns(std::string source, SkymapOrdering ordering, SkymapHeader header,
                             std::vector<std::uint64_t> uniq, std::vector<double> probdensity,
                             std::vector<DistanceAnsatz> distance);

  // Lookup the way a naive reader would: a linear scan of the pixels (for the benchmark).
  SkymapLookup at_by_linear_scan(double ra_deg, double dec_deg) const;

 private:
  Skymap() = default;
  std::uint64_t pixel_at_max_order(double ra_deg, double dec_deg) const;
  std::size_t rank_at(double ra_deg, double dec_deg, bool& covered) const;
  SkymapLookup lookup_rank(std::size_t rank, bool covered) const;
  std::optional<std::pair<double, double>> ansatz_moments() const;

  std::string source_;
  SkymapOrdering ordering_ = SkymapOrdering::nuniq;
  SkymapHeader header_;
  int min_order_ = 0;
  int max_order_ = 0;
  std::shared_ptr<const T_Healpix_Base<std::int64_t>> max_order_base_;  // NESTED at max_order_
  // Rank order (descending density).
  std::vector<std::uint64_t> ranked_uniq_;
  std::vector<double> ranked_density_;
  std::vector<double> cumulative_prob_;
  std::vector<double> cumulative_area_;  // deg²
  std::vector<DistanceAnsatz> ranked_distance_;
  // Pixel ranges at max order, sorted by first pixel: [range_start_, range_end_) -> rank.
  std::vector<std::uint64_t> range_start_;
  std::vector<std::uint64_t> range_end_;
  std::vector<std::uint32_t> range_rank_;
};

// Sky-position overlap integrals for RAVEN-style sky-coupled false-alarm rates (Ashton et al.
// 2018): 4π Σ ρ1 ρ2 ΔA / (N1 N2) over the common refinement of both pixelizations, and for a point
// 4π ρ(point) / N.
double overlap_integral(const Skymap& first, const Skymap& second);
double overlap_integral(const Skymap& map, double ra_deg, double dec_deg);

// Reads a file's bytes (for callers that decide themselves how to parse them).
std::vector<std::uint8_t> read_file_bytes(const std::string& path);
// GETs an http(s) URL with libcurl; HTTP errors are `failed`, transport errors `disconnected`.
std::vector<std::uint8_t> fetch_url(const std::string& url, const FetchOptions& options = {});

}  // namespace ebs::skymap
