// Follow-up products on the command line, as subcommands of `ebs-flow skymap`:
//   skymap galaxies MAP CATALOG   galaxies ranked by host probability (JSON lines, then a summary)
//   skymap moc MAP --levels ...   credible-region MOCs (FITS + JSON files, one JSON line per level)
//   skymap coverage MAP POINTINGS probability and 90 % area covered per night and cumulative
//   skymap hpx MAP OUT.fits       the map as a GADF HPX map (Gammapy's Map.read)
//   skymap h0 MAP --ra --dec --z  standard-siren H0 posterior for one host
// and `ebs-flow followup lightcurve` (GADF light-curve FITS for Gammapy's FluxPoints.read).
#pragma once

#include <filesystem>
#include <iosfwd>
#include <vector>

#include "engine/cli/command_registry.h"

namespace ebs {

void register_followup_commands(CommandRegistry& registry);

}  // namespace ebs

namespace ebs::skymap {
class Skymap;
}

namespace ebs::followup {

struct GalaxyTable;
struct GalaxyRanking;
struct NightCoverage;
struct H0Posterior;

// What the commands print, for callers and tests. `top` 0: every ranked galaxy; the listing also
// stops after the galaxy whose cumulative probability reaches `cumulative_limit`.
void write_galaxy_ranking(const GalaxyTable& galaxies, const GalaxyRanking& ranking, std::size_t top,
                          double cumulative_limit, std::ostream& out);
// Writes PREFIX-<percent>.moc.fits and .moc.json per level and one JSON line each.
void write_credible_mocs(const skymap::Skymap& map, const std::vector<double>& levels, int max_order,
                         const std::filesystem::path& out_prefix, std::ostream& out);
void write_coverage(const std::vector<NightCoverage>& nights, std::ostream& out);
void write_h0_posterior(const H0Posterior& posterior, bool with_grid, std::ostream& out);

}  // namespace ebs::followup
