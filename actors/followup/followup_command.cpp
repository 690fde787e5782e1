#include "actors/followup/followup_command.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>

#include "actors/common/catalog/catalog_store.h"
#include "actors/common/skymap/skymap_notice.h"
#include "actors/followup/moc_fits.h"
#include "actors/followup/gadf_export.h"
#include "actors/followup/galaxy_targets.h"
#include "actors/followup/standard_siren.h"
#include "actors/followup/survey_coverage.h"
#include "engine/util/fault.h"

namespace ebs::followup {

namespace {

std::vector<double> parse_levels(const std::string& text) {
  std::vector<double> levels;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const double level = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(level > 0 && level <= 1))
      fail("--levels", "'" + item + "' is not a credible level in (0, 1]");
    levels.push_back(level);
  }
  if (levels.empty()) fail("--levels", "no credible level given");
  return levels;
}

}  // namespace

void write_galaxy_ranking(const GalaxyTable& galaxies, const GalaxyRanking& ranking, std::size_t top,
                          double cumulative_limit, std::ostream& out) {
  std::size_t rank = 0;
  for (const RankedGalaxy& galaxy : ranking.galaxies) {
    if (top > 0 && rank >= top) break;
    ++rank;
    auto number = [](double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); };
    nlohmann::json line = {
        {"rank", rank},
        {"id", galaxies.id[galaxy.index]},
        {"ra", galaxies.ra_deg[galaxy.index]},
        {"dec", galaxies.dec_deg[galaxy.index]},
        {"distance_mpc", galaxies.distance_mpc[galaxy.index]},
        {"magnitude", number(galaxies.magnitude[galaxy.index])},
        {"redshift", number(galaxies.redshift[galaxy.index])},
        {"dp_dv", galaxy.dp_dv},
        {"luminosity", galaxy.luminosity},
        {"probability", galaxy.probability},
        {"cumulative_probability", galaxy.cumulative_probability},
        {"searched_prob", galaxy.searched_prob},
    };
    out << line.dump() << "\n";
    if (galaxy.cumulative_probability >= cumulative_limit) break;
  }
  nlohmann::json summary = {
      {"catalogue", galaxies.name},
      {"galaxies", ranking.considered},
      {"ranked", ranking.galaxies.size()},
      {"printed", rank},
      {"without_distance", ranking.without_distance},
      {"without_magnitude", ranking.without_magnitude},
      {"total_score", ranking.total_score},
  };
  out << nlohmann::json{{"summary", summary}}.dump() << "\n";
}

void write_credible_mocs(const skymap::Skymap& map, const std::vector<double>& levels, int max_order,
                         const std::filesystem::path& out_prefix, std::ostream& out) {
  for (double level : levels) {
    const Moc moc = credible_region_moc(map, level, max_order);
    const int percent = static_cast<int>(std::lround(level * 100));
    const std::string stem = out_prefix.string() + "-" + std::to_string(percent);
    const double area = moc.area_deg2();
    write_moc_fits(moc, stem + ".moc.fits", {{"CREDLEVL", level}, {"AREA", area}});
    {
      std::ofstream json(stem + ".moc.json", std::ios::binary);
      json << moc_to_json(moc).dump() << "\n";
      if (!json) fail(stem + ".moc.json", "cannot write the MOC");
    }
    nlohmann::json line = {
        {"level", level},
        {"max_order", moc.max_order},
        {"cells", moc.uniq.size()},
        {"area_deg2", area},
        {"searched_area_deg2", map.credible_area(level)},
        {"fits", stem + ".moc.fits"},
        {"json", stem + ".moc.json"},
    };
    out << line.dump() << "\n";
  }
}

void write_coverage(const std::vector<NightCoverage>& nights, std::ostream& out) {
  for (const NightCoverage& n : nights) {
    nlohmann::json line = {
        {"night", n.night},
        {"pointings", n.pointings},
        {"probability", n.probability},
        {"area_90_deg2", n.area_90_deg2},
        {"cumulative_probability", n.cumulative_probability},
        {"cumulative_area_90_deg2", n.cumulative_area_90_deg2},
        {"alerts", n.alerts},
        {"alerts_in_90", n.alerts_in_90},
    };
    out << line.dump() << "\n";
  }
}

void write_h0_posterior(const H0Posterior& posterior, bool with_grid, std::ostream& out) {
  nlohmann::json line = {
      {"hubble_velocity_km_s", posterior.hubble_velocity_km_s},
      {"distmu", posterior.mu},
      {"distsigma", posterior.sigma},
      {"h0_maximum", posterior.maximum},
      {"h0_median", posterior.median},
      {"h0_lower_68", posterior.lower_68},
      {"h0_upper_68", posterior.upper_68},
      {"selection_horizon_mpc", posterior.horizon_mpc > 0 ? nlohmann::json(posterior.horizon_mpc) : nlohmann::json(nullptr)},
  };
  if (with_grid) {
    line["h0"] = posterior.h0;
    line["density"] = posterior.density;
    line["selection"] = posterior.selection;
  }
  out << line.dump() << "\n";
}

}  // namespace ebs::followup

namespace ebs {

void register_followup_commands(CommandRegistry& registry) {
  registry.add("skymap galaxies", "Rank a catalogue's galaxies by the probability of hosting the event (3-D map)",
               [](CLI::App& app) {
                 struct Options {
                   std::string map, catalogue, cache_dir, weight = "none";
                   followup::GalaxyLoadOptions load;
                   double distance_error_fraction = 0, cumulative = 1;
                   std::size_t top = 100;
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("map", o->map, "FITS sky map with distance layers, JSON GCN notice or URL")->required();
                 app.add_option("catalog", o->catalogue, "catalogue: YAML config (catalogs/*.yaml) or .ebscat file")
                     ->required();
                 app.add_option("--top", o->top, "print the N most probable galaxies (0: all; default 100)");
                 app.add_option("--cumulative", o->cumulative,
                                "stop once the cumulative probability reaches this (default 1: no limit)");
                 app.add_option("--weight", o->weight, "luminosity weight: none (default), B or K");
                 app.add_option("--magnitude-column", o->load.magnitude_column,
                                "kept catalogue column with the magnitude for --weight (default: the magnitude field)");
                 app.add_option("--magnitude-band", o->load.magnitude_band, "band of --magnitude-column (B or K)");
                 app.add_option("--distance-error-column", o->load.distance_error_column,
                                "kept catalogue column with the distance error in Mpc (e.g. d_L_err)");
                 app.add_option("--distance-error-fraction", o->distance_error_fraction,
                                "distance error of galaxies without one, as a fraction of the distance (default 0)");
                 app.add_option("--cache-dir", o->cache_dir, "where YAML catalogue configs are built (default: the actors' shared cache, "
                                "$EBS_CATALOG_CACHE else ~/.cache/ebs-flow/catalogs; ./catalog-cache when it cannot be written)");
                 return CommandRegistry::Runner([o] {
                   followup::GalaxyRankingOptions options;
                   options.weight = followup::parse_luminosity_weight(o->weight, "--weight");
                   options.distance_error_fraction = o->distance_error_fraction;
                   const std::filesystem::path cache_dir =
                       o->cache_dir.empty() ? catalog::shared_catalogue_cache_dir("catalog-cache") : std::filesystem::path(o->cache_dir);
                   const auto galaxies = followup::load_galaxy_table(o->catalogue, cache_dir, o->load);
                   if (options.weight != followup::LuminosityWeight::none) {
                     const auto band = followup::parse_luminosity_weight(galaxies.magnitude_band, o->catalogue + ":magnitude band");
                     if (band != options.weight)
                       fail("--weight", "the catalogue's magnitudes are in band '" + galaxies.magnitude_band +
                                            "', not " + o->weight + " (use --magnitude-column and --magnitude-band)");
                   }
                   const auto map = skymap::load_skymap(o->map);
                   const auto ranking = followup::rank_galaxies(map, galaxies, options);
                   followup::write_galaxy_ranking(galaxies, ranking, o->top, o->cumulative, std::cout);
                   return exit_code::ok;
                 });
               });

  registry.add("skymap moc", "Credible regions as IVOA MOC 2.0 files (FITS and JSON) with their areas",
               [](CLI::App& app) {
                 struct Options {
                   std::string map, levels = "0.5,0.9", out;
                   int max_order = -1;
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("map", o->map, "FITS sky map, JSON GCN notice or URL")->required();
                 app.add_option("--levels", o->levels, "credible levels, comma-separated (default 0.5,0.9)");
                 app.add_option("--max-order", o->max_order, "MOC order (default: the map's maximum order)");
                 app.add_option("--out", o->out, "output prefix: PREFIX-50.moc.fits, PREFIX-50.moc.json, ... (default: the event id)");
                 return CommandRegistry::Runner([o] {
                   const auto levels = followup::parse_levels(o->levels);
                   const auto map = skymap::load_skymap(o->map);
                   std::string prefix = o->out;
                   if (prefix.empty()) prefix = map.header().object.empty() ? "skymap" : map.header().object;
                   followup::write_credible_mocs(map, levels, o->max_order, prefix, std::cout);
                   return exit_code::ok;
                 });
               });

  registry.add("skymap coverage", "Probability and 90 % region area covered by survey pointings, per night and cumulative",
               [](CLI::App& app) {
                 struct Options {
                   std::string map, plan, alerts;
                   followup::CoverageOptions coverage;
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("map", o->map, "FITS sky map, JSON GCN notice or URL")->required();
                 app.add_option("pointings", o->plan, "survey pointings (YAML: footprints, pointings)")->required();
                 app.add_option("--alerts", o->alerts, "alerts as JSON lines (the jsonl sink's Alert records)");
                 app.add_option("--order", o->coverage.order, "HEALPix order of the evaluation (default max(map order, 10))");
                 app.add_option("--level", o->coverage.level, "credible region whose area is reported (default 0.9)");
                 return CommandRegistry::Runner([o] {
                   const auto plan = followup::load_survey_plan(o->plan);
                   std::vector<followup::AlertPosition> alerts;
                   if (!o->alerts.empty()) alerts = followup::load_alert_positions(o->alerts);
                   const auto map = skymap::load_skymap(o->map);
                   followup::write_coverage(followup::survey_coverage(map, plan, alerts, o->coverage), std::cout);
                   return exit_code::ok;
                 });
               });

  registry.add("skymap hpx", "Write a sky map as a GADF HPX map (Gammapy Map.read)", [](CLI::App& app) {
    struct Options {
      std::string map, out;
      int order = -1;
    };
    auto o = std::make_shared<Options>();
    app.add_option("map", o->map, "FITS sky map, JSON GCN notice or URL")->required();
    app.add_option("out", o->out, "output FITS file")->required();
    app.add_option("--order", o->order, "HEALPix order (default: the map's maximum order)");
    return CommandRegistry::Runner([o] {
      const auto map = skymap::load_skymap(o->map);
      followup::write_hpx_map(map, o->out, o->order);
      std::cout << nlohmann::json{{"out", o->out}, {"order", o->order < 0 ? map.max_order() : o->order}}.dump() << "\n";
      return exit_code::ok;
    });
  });

  registry.add("skymap h0", "Standard-siren H0 posterior for a host galaxy's direction and redshift", [](CLI::App& app) {
    struct Options {
      std::string map;
      double ra = 0, dec = 0;
      followup::SirenOptions siren;
      bool grid = false;
    };
    auto o = std::make_shared<Options>();
    app.add_option("map", o->map, "FITS sky map with distance layers, JSON GCN notice or URL")->required();
    app.add_option("--ra", o->ra, "host RA (deg)")->required();
    app.add_option("--dec", o->dec, "host Dec (deg)")->required();
    app.add_option("--z", o->siren.redshift, "host redshift")->required();
    app.add_option("--velocity-error", o->siren.velocity_error_km_s, "σ of the Hubble velocity, km/s (default 0)");
    app.add_option("--omega-m", o->siren.omega_matter, "Ω_m of the flat ΛCDM cosmology (default 0.3)");
    app.add_option("--h0-min", o->siren.h0_min, "grid start, km/s/Mpc (default 20)");
    app.add_option("--h0-max", o->siren.h0_max, "grid end, km/s/Mpc (default 150)");
    app.add_option("--points", o->siren.grid_points, "grid points (default 1301)");
    app.add_option("--horizon", o->siren.horizon_mpc,
                   "detection horizon, Mpc (luminosity distance): the GW selection effect beta(H0) of Chen, Fishbach & "
                   "Holz 2018; default 0 = none");
    app.add_flag("--grid", o->grid, "print the posterior on the grid too");
    return CommandRegistry::Runner([o] {
      const auto map = skymap::load_skymap(o->map);
      followup::write_h0_posterior(followup::h0_posterior(map, o->ra, o->dec, o->siren), o->grid, std::cout);
      return exit_code::ok;
    });
  });

  registry.describe_group("followup", "Follow-up products of candidates (exports for joint analyses)");
  registry.add("followup lightcurve", "A candidate's photometry as a GADF light-curve FITS (Gammapy FluxPoints.read)",
               [](CLI::App& app) {
                 struct Options {
                   std::string photometry, out, object;
                   followup::LightCurveOptions options;
                 };
                 auto o = std::make_shared<Options>();
                 app.add_option("photometry", o->photometry,
                                "SkyPortal photometry CSV (mjd, mag, magerr, filter, limiting_mag), or alerts as JSON lines with --object")
                     ->required();
                 app.add_option("--object", o->object, "read alerts (the jsonl sink's lines) and take this object's photometry");
                 app.add_option("out", o->out, "output FITS file")->required();
                 app.add_option("--exposure", o->options.exposure_s, "time bin width in seconds (default 30)");
                 app.add_option("--ul-sigma", o->options.ul_sigma, "significance of the limiting magnitudes (default 5)");
                 return CommandRegistry::Runner([o] {
                   const auto points = o->object.empty() ? followup::load_photometry_csv(o->photometry)
                                                         : followup::load_alert_photometry(o->photometry, o->object);
                   const auto table = followup::make_light_curve(points, o->options, o->photometry);
                   followup::write_light_curve_fits(table, o->out, o->options);
                   std::cout << nlohmann::json{{"out", o->out}, {"time_bins", table.time_min.size()}, {"bands", table.bands}}.dump()
                             << "\n";
                   return exit_code::ok;
                 });
               });
}

}  // namespace ebs
