#include "actors/crossmatch/catalog_command.h"

#include <CLI/CLI.hpp>

#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "actors/common/catalog/catalog.h"
#include "actors/common/catalog/catalog_builder.h"
#include "actors/common/catalog/catalog_config.h"
#include "actors/common/catalog/sky_geometry.h"
#include "engine/cli/command_registry.h"
#include "engine/util/fault.h"

namespace ebs {

void register_catalog_commands(CommandRegistry& registry) {
  using namespace ebs::catalog;
  registry.describe_group("catalog", "Build, describe and query indexed catalogues (.ebscat)");

  registry.add("catalog build", "Build an indexed catalogue from a YAML configuration (see catalogs/)",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 struct Options {
                   std::string config, output;
                   bool skip_bad_rows = false;
                 };
                 auto options = std::make_shared<Options>();
                 app.add_option("config", options->config, "Catalogue configuration (YAML)")->required();
                 app.add_option("-o,--output", options->output, "Output catalogue file (.ebscat)")->required();
                 app.add_flag("--skip-bad-rows", options->skip_bad_rows,
                              "Skip malformed rows (reported on stderr) instead of failing");
                 return [options]() {
                   const CatalogConfig config = load_catalog_config(options->config);
                   BuildOptions build;
                   build.skip_bad_rows = options->skip_bad_rows;
                   const BuildReport report = build_catalog(config, options->output, build);
                   if (report.skipped > 0) {
                     std::cerr << config.data_file.string() << ": skipped " << report.skipped << " bad row"
                               << (report.skipped == 1 ? "" : "s") << "; first reasons:\n";
                     for (const std::string& reason : report.skip_reasons) std::cerr << "  " << reason << "\n";
                   }
                   nlohmann::json out = {{"catalog", config.name},     {"output", options->output},
                                         {"rows", report.rows},        {"skipped_rows", report.skipped},
                                         {"index_order", report.index_order}, {"content_hash", report.content_hash}};
                   std::cout << out.dump() << "\n";
                   return exit_code::ok;
                 };
               });

  registry.add("catalog info", "Describe a catalogue: name, rows, columns, units, epoch, hash, bytes per source",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 auto file = std::make_shared<std::string>();
                 app.add_option("file", *file, "Catalogue file (.ebscat)")->required();
                 return [file]() {
                   const Catalog catalog(*file);
                   const CatalogInfo& info = catalog.info();
                   nlohmann::json out = {{"name", info.name},
                                         {"version", info.version},
                                         {"description", info.description},
                                         {"object_type", info.object_type},
                                         {"rows", info.rows},
                                         {"skipped_rows", info.skipped_rows},
                                         {"columns", info.fields},
                                         {"extra_columns", info.extra_columns},
                                         {"source_file", info.source_file},
                                         {"content_hash", info.content_hash},
                                         {"index_order", info.index_order},
                                         {"bytes_per_source", catalog.index_bytes_per_source()}};
                   if (info.epoch_mjd) {
                     out["epoch"] = info.epoch_label;
                     out["epoch_mjd"] = *info.epoch_mjd;
                     out["max_proper_motion_mas_per_yr"] = info.max_proper_motion_mas_per_yr;
                   }
                   if (!info.magnitude_band.empty()) out["magnitude_band"] = info.magnitude_band;
                   std::cout << out.dump() << "\n";
                   return exit_code::ok;
                 };
               });

  registry.add("catalog cone", "Sources within RADIUS_ARCSEC of (RA, DEC), nearest first, as JSON lines",
               [](CLI::App& app) -> CommandRegistry::Runner {
                 struct Options {
                   std::string file, ra, dec;
                   double radius_arcsec = 0;
                   double epoch_mjd = 0;
                   size_t limit = 0;
                 };
                 auto options = std::make_shared<Options>();
                 app.add_option("file", options->file, "Catalogue file (.ebscat)")->required();
                 app.add_option("ra", options->ra, "RA: degrees or h:m:s")->required();
                 app.add_option("dec", options->dec, "Dec: degrees or d:m:s")->required();
                 app.add_option("radius_arcsec", options->radius_arcsec, "Search radius in arcsec")
                     ->required()
                     ->check(CLI::NonNegativeNumber);
                 CLI::Option* epoch = app.add_option("--epoch-mjd", options->epoch_mjd,
                                                     "Move sources by their proper motions to this MJD");
                 app.add_option("--limit", options->limit, "At most this many sources (0 = all)");
                 return [options, epoch]() {
                   const double ra = parse_ra_argument(options->ra.c_str());
                   const double dec = parse_dec_argument(options->dec.c_str());
                   const Catalog catalog(options->file);
                   std::optional<double> epoch_mjd;
                   if (epoch->count() > 0) epoch_mjd = options->epoch_mjd;
                   const std::vector<Match> matches = catalog.all_within(ra, dec, options->radius_arcsec, epoch_mjd);
                   size_t written = 0;
                   for (const Match& match : matches) {
                     if (options->limit && written++ == options->limit) break;
                     nlohmann::json line = to_json(catalog.row(match.index));
                     line["sep_arcsec"] = match.sep_arcsec;
                     std::cout << line.dump() << "\n";
                   }
                   return exit_code::ok;
                 };
               });
}

}  // namespace ebs
