#include "actors/coincidence/skymap_command.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "actors/common/skymap/skymap.h"
#include "actors/common/skymap/skymap_notice.h"

namespace ebs::coincidence {

using skymap::Skymap;
using skymap::SkymapHeader;
using skymap::SkymapLookup;

namespace {
// JSON has no NaN or infinity: such values (DISTMU = +inf where DISTNORM = 0) are written as null.
nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}
template <typename T>
nlohmann::json optional_or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
}  // namespace

void write_skymap_info(const Skymap& map, std::ostream& out) {
  const SkymapHeader& h = map.header();
  nlohmann::json header = {
      {"OBJECT", h.object},         {"DATE-OBS", h.date_obs},      {"MJD-OBS", optional_or_null(h.mjd_obs)},
      {"INSTRUME", h.instruments},  {"CREATOR", h.creator},        {"ORIGIN", h.origin},
      {"VCSVERS", h.software_version}, {"DISTMEAN", optional_or_null(h.distmean)},
      {"DISTSTD", optional_or_null(h.diststd)}, {"MOCORDER", optional_or_null(h.mocorder)},
  };
  const auto [peak_ra, peak_dec] = map.peak();
  // For people: "125.96 ± 40.29 Mpc" (posterior mean ± standard deviation over the whole sky).
  nlohmann::json distance = nullptr;
  if (map.distance_mean() && map.distance_std()) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f ± %.2f Mpc", *map.distance_mean(), *map.distance_std());
    distance = text;
  }
  nlohmann::json info = {
      {"source", map.source()},
      {"peak_ra", peak_ra},
      {"peak_dec", peak_dec},
      {"distance", distance},
      {"ordering", to_string(map.ordering())},
      {"min_order", map.min_order()},
      {"max_order", map.max_order()},
      {"rows", map.rows()},
      {"integral", map.integral()},
      {"sky_coverage", map.sky_coverage()},
      {"area_50", map.credible_area(0.5)},
      {"area_90", map.credible_area(0.9)},
      {"has_distance", map.has_distance()},
      {"distance_mean", optional_or_null(map.distance_mean())},
      {"distance_std", optional_or_null(map.distance_std())},
      {"map_version", optional_or_null(h.map_version)},
      {"header", header},
  };
  out << info.dump() << "\n";
}

void write_skymap_lookup(const Skymap& map, double ra_deg, double dec_deg, std::ostream& out) {
  SkymapLookup hit = map.at(ra_deg, dec_deg);
  nlohmann::json line = {
      {"ra", ra_deg},
      {"dec", dec_deg},
      {"probdensity", hit.probdensity},
      {"searched_prob", hit.searched_prob},
      {"searched_area", hit.searched_area},
      {"covered", hit.covered},
  };
  if (hit.distance) {
    line["distmu"] = number_or_null(hit.distance->mu);
    line["distsigma"] = number_or_null(hit.distance->sigma);
    line["distnorm"] = number_or_null(hit.distance->norm);
  } else {
    line["distmu"] = line["distsigma"] = line["distnorm"] = nullptr;
  }
  out << line.dump() << "\n";
}

}  // namespace ebs::coincidence

namespace ebs {

void register_skymap_commands(CommandRegistry& registry) {
  registry.describe_group("skymap", "Inspect HEALPix sky maps (FITS files, GCN notices, URLs)");

  registry.add("skymap info", "Summary of a sky map as one JSON line", [](CLI::App& app) {
    auto file = std::make_shared<std::string>();
    app.add_option("file", *file, "FITS sky map, JSON GCN notice with event.skymap, or http(s) URL")
        ->required();
    return CommandRegistry::Runner([file] {
      coincidence::write_skymap_info(skymap::load_skymap(*file), std::cout);
      return exit_code::ok;
    });
  });

  registry.add("skymap at", "Probability density, searched probability and area at positions",
               [](CLI::App& app) {
                 auto file = std::make_shared<std::string>();
                 auto coordinates = std::make_shared<std::vector<double>>();
                 app.add_option("file", *file, "FITS sky map, JSON GCN notice or http(s) URL")->required();
                 app.add_option("coordinates", *coordinates, "RA DEC pairs in degrees (use -- before a negative RA)")
                     ->required();
                 return CommandRegistry::Runner([file, coordinates] {
                   if (coordinates->size() % 2 != 0) {
                     std::cerr << "skymap at: coordinates come in RA DEC pairs\n";
                     return exit_code::usage;
                   }
                   auto map = skymap::load_skymap(*file);
                   for (std::size_t i = 0; i < coordinates->size(); i += 2)
                     coincidence::write_skymap_lookup(map, (*coordinates)[i], (*coordinates)[i + 1], std::cout);
                   return exit_code::ok;
                 });
               });
}

}  // namespace ebs
