#include "actors/followup/galaxy_targets.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "actors/common/catalog/catalog.h"
#include "actors/common/catalog/catalog_format.h"
#include "actors/common/catalog/catalog_store.h"
#include "actors/common/sqlite/sqlite_db.h"
#include "engine/util/fault.h"

namespace ebs::followup {

namespace {

constexpr double inverse_sqrt_two_pi = 0.398942280401432677939946059934381868;

double column_number(sqlite3_stmt* statement, int column) {
  return sqlite3_column_type(statement, column) == SQLITE_NULL ? NAN : sqlite3_column_double(statement, column);
}

}  // namespace

void GalaxyTable::push_back(std::string galaxy_id, double ra, double dec, double distance, double distance_error,
                            double apparent_magnitude, double galaxy_redshift) {
  id.push_back(std::move(galaxy_id));
  ra_deg.push_back(ra);
  dec_deg.push_back(dec);
  distance_mpc.push_back(distance);
  distance_error_mpc.push_back(distance_error);
  magnitude.push_back(apparent_magnitude);
  redshift.push_back(galaxy_redshift);
}

namespace {

GalaxyTable load_galaxy_file(const std::filesystem::path& file, const std::filesystem::path& catalogue,
                             const GalaxyLoadOptions& options) {
  const catalog::Catalog opened(file);  // checks format and version, reads the metadata
  const catalog::CatalogInfo& info = opened.info();
  const std::string place = catalogue.string();
  auto extra = [&](const std::string& name, const char* option) {
    if (name.empty()) return std::string("NULL");
    if (std::find(info.extra_columns.begin(), info.extra_columns.end(), name) == info.extra_columns.end())
      fail(place, std::string(option) + ": the catalogue keeps no column '" + name +
                      "' (add it to `keep:` in its config)");
    return sqlite::quote_identifier(catalog::kExtraColumnPrefix + name);
  };
  const std::string sql = "SELECT id, ra, dec, distance_mpc, " + extra(options.distance_error_column, "distance error") +
                          ", " + (options.magnitude_column.empty() ? std::string("magnitude") : extra(options.magnitude_column, "magnitude")) +
                          ", redshift FROM sources ORDER BY idx";
  sqlite::SqliteDatabase db = sqlite::open_sqlite(file.string(), SQLITE_OPEN_READONLY, place);
  sqlite::SqliteStatement statement = sqlite::prepare_sql(db.get(), sql, place);
  GalaxyTable table;
  table.name = info.name;
  table.magnitude_band = options.magnitude_column.empty() ? info.magnitude_band : options.magnitude_band;
  const std::size_t rows = info.rows;
  table.id.reserve(rows);
  for (auto* column : {&table.ra_deg, &table.dec_deg, &table.distance_mpc, &table.distance_error_mpc, &table.magnitude,
                       &table.redshift})
    column->reserve(rows);
  sqlite3_stmt* st = statement.get();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const auto* id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    table.push_back(id ? id : "", sqlite3_column_double(st, 1), sqlite3_column_double(st, 2), column_number(st, 3),
                    column_number(st, 4), column_number(st, 5), column_number(st, 6));
  }
  if (rc != SQLITE_DONE) fail(place, std::string("SQLite: ") + sqlite3_errmsg(db.get()));
  return table;
}

}  // namespace

GalaxyTable load_galaxy_table(const std::filesystem::path& catalogue, const std::filesystem::path& cache_dir,
                              const GalaxyLoadOptions& options) {
  GalaxyTable table;
  catalog::open_built_catalogue(catalogue, cache_dir, [&](const std::filesystem::path& file) {
    table = load_galaxy_file(file, catalogue, options);
  });
  return table;
}

LuminosityWeight parse_luminosity_weight(const std::string& text, const std::string& place) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == "none") return LuminosityWeight::none;
  if (lower == "b") return LuminosityWeight::b_band;
  if (lower == "k") return LuminosityWeight::k_band;
  fail(place, "luminosity weight '" + text + "' is not one of none, B, K");
}

double solar_absolute_magnitude(LuminosityWeight weight) {
  switch (weight) {
    case LuminosityWeight::b_band: return 5.48;
    case LuminosityWeight::k_band: return 3.28;
    case LuminosityWeight::none: break;
  }
  return 0;
}

double galaxy_dp_dv(const skymap::SkymapLookup& lookup, double distance_mpc, double distance_error_mpc) {
  if (!lookup.covered || !lookup.distance) return 0;
  const skymap::DistanceAnsatz& d = *lookup.distance;
  // No support (DISTNORM = 0, DISTMU = +inf) or a galaxy without a distance: 0, not NaN.
  if (!(d.norm > 0) || !std::isfinite(d.mu) || !(d.sigma > 0) || !std::isfinite(distance_mpc)) return 0;
  const double error = std::isfinite(distance_error_mpc) && distance_error_mpc > 0 ? distance_error_mpc : 0;
  const double s = std::sqrt(d.sigma * d.sigma + error * error);
  const double t = (distance_mpc - d.mu) / s;
  return lookup.probdensity * d.norm * std::exp(-0.5 * t * t) * inverse_sqrt_two_pi / s;
}

GalaxyRanking rank_galaxies(const skymap::Skymap& map, const GalaxyTable& galaxies,
                            const GalaxyRankingOptions& options) {
  if (!map.has_distance())
    fail(map.source(), "the sky map has no distance layers (DISTMU, DISTSIGMA, DISTNORM): galaxies cannot be ranked in 3-D");
  GalaxyRanking ranking;
  ranking.considered = galaxies.size();
  const double solar = solar_absolute_magnitude(options.weight);
  ranking.galaxies.reserve(galaxies.size());
  for (std::size_t i = 0; i < galaxies.size(); ++i) {
    const double distance = galaxies.distance_mpc[i];
    if (!(distance > 0) || !std::isfinite(distance)) {
      ++ranking.without_distance;
      continue;
    }
    double luminosity = 1;
    if (options.weight != LuminosityWeight::none) {
      if (!std::isfinite(galaxies.magnitude[i])) {
        ++ranking.without_magnitude;
        continue;
      }
      // M = m - 5 log10(r / 10 pc); L / L_sun = 10^(-0.4 (M - M_sun)).
      const double absolute = galaxies.magnitude[i] - 5 * std::log10(distance) - 25;
      luminosity = std::pow(10.0, -0.4 * (absolute - solar));
    }
    double error = galaxies.distance_error_mpc[i];
    if (!(error >= 0)) error = options.distance_error_fraction * distance;
    const skymap::SkymapLookup lookup = map.at(galaxies.ra_deg[i], galaxies.dec_deg[i]);
    const double dp_dv = galaxy_dp_dv(lookup, distance, error);
    if (!(dp_dv > 0)) continue;
    RankedGalaxy galaxy;
    galaxy.index = static_cast<std::uint32_t>(i);
    galaxy.dp_dv = dp_dv;
    galaxy.luminosity = luminosity;
    galaxy.probability = luminosity * dp_dv;  // the score, normalised below
    galaxy.searched_prob = lookup.searched_prob;
    ranking.total_score += galaxy.probability;
    ranking.galaxies.push_back(galaxy);
  }
  std::sort(ranking.galaxies.begin(), ranking.galaxies.end(), [](const RankedGalaxy& a, const RankedGalaxy& b) {
    if (a.probability != b.probability) return a.probability > b.probability;
    return a.index < b.index;
  });
  double cumulative = 0;
  for (RankedGalaxy& galaxy : ranking.galaxies) {
    galaxy.probability /= ranking.total_score;
    cumulative += galaxy.probability;
    galaxy.cumulative_probability = cumulative;
  }
  return ranking;
}

}  // namespace ebs::followup
