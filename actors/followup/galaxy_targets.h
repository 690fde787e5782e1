// Galaxy targeting for 3-D sky maps: ranks the galaxies of a catalogue by the posterior
// probability of hosting the event (docs/followup.md has the formulas and their sources).
//
// Per galaxy at direction Ω and luminosity distance r with a Gaussian error σ_r, in the pixel
// holding Ω (ρ = PROBDENSITY [sr^-1], μ, σ, N = DISTMU, DISTSIGMA, DISTNORM):
//   dP/dV(Ω, r) = ρ · N · φ(r; μ, σ)                  [Mpc^-3] (Singer et al. 2016)
//   marginalised over the galaxy's distance error (the convolution of two Gaussians):
//   dP/dV_marg  = ρ · N · φ(r; μ, √(σ² + σ_r²))
//   score       = w · dP/dV_marg, w = 1 or the galaxy's B/K luminosity in solar units
//   probability = score / Σ score (over the catalogue's galaxies)
// Not p(r | Ω) = N r² φ(r; μ, σ): that carries r² and over-weights far galaxies.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "actors/common/skymap/skymap.h"

namespace ebs::followup {

// The columns of a galaxy catalogue that targeting needs, as flat arrays (one entry per galaxy;
// NaN where the catalogue has no value).
struct GalaxyTable {
  std::string name;            // catalogue name
  std::string magnitude_band;  // band of `magnitude` (B, K, ...), "" when unknown
  std::vector<std::string> id;
  std::vector<double> ra_deg, dec_deg, distance_mpc, distance_error_mpc, magnitude, redshift;

  std::size_t size() const { return ra_deg.size(); }
  void push_back(std::string galaxy_id, double ra, double dec, double distance, double distance_error,
                 double apparent_magnitude, double galaxy_redshift = NAN);
};

struct GalaxyLoadOptions {
  // An extra (kept) column holding the distance error in Mpc, e.g. GLADE+'s d_L_err.
  std::string distance_error_column;
  // An extra (kept) column holding the apparent magnitude used for luminosity weights instead of
  // the catalogue's `magnitude` field (e.g. "magk"), and its band.
  std::string magnitude_column;
  std::string magnitude_band;
};

// Reads a catalogue (a YAML config, built into `cache_dir` when needed, or a .ebscat file).
GalaxyTable load_galaxy_table(const std::filesystem::path& catalogue, const std::filesystem::path& cache_dir,
                              const GalaxyLoadOptions& options = {});

enum class LuminosityWeight { none, b_band, k_band };
// "none", "B", "K" (case-insensitive); a fault naming `place` otherwise.
LuminosityWeight parse_luminosity_weight(const std::string& text, const std::string& place);

struct GalaxyRankingOptions {
  LuminosityWeight weight = LuminosityWeight::none;
  // σ_r of galaxies without one: this fraction of their distance (0: point distances).
  double distance_error_fraction = 0;
};

struct RankedGalaxy {
  std::uint32_t index = 0;      // row in the GalaxyTable
  double dp_dv = 0;             // marginalised dP/dV, Mpc^-3
  double luminosity = 1;        // weight w (L/L_sun in the band, or 1)
  double probability = 0;       // normalised score
  double cumulative_probability = 0;  // along the ranking, this galaxy included
  double searched_prob = 1;     // 2-D credible level of the galaxy's direction
};

struct GalaxyRanking {
  std::vector<RankedGalaxy> galaxies;  // galaxies with a score > 0, descending probability
  double total_score = 0;              // Σ w · dP/dV over the catalogue (the normaliser)
  std::size_t considered = 0;          // galaxies in the table
  std::size_t without_distance = 0;    // skipped: no distance
  std::size_t without_magnitude = 0;   // skipped under a luminosity weight: no magnitude
};

// The absolute magnitude of the Sun used for luminosity weights (Vega; Binney & Merrifield 1998).
double solar_absolute_magnitude(LuminosityWeight weight);

// Marginalised dP/dV (Mpc^-3) of one galaxy; 0 where the map has no support.
double galaxy_dp_dv(const skymap::SkymapLookup& lookup, double distance_mpc, double distance_error_mpc);

// Ranks every galaxy; a fault when the map has no distance layers.
GalaxyRanking rank_galaxies(const skymap::Skymap& map, const GalaxyTable& galaxies,
                            const GalaxyRankingOptions& options = {});

}  // namespace ebs::followup
