#include "engine/time/time_commands.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/time/time_scale.h"
#include "engine/util/fault.h"

namespace ebs {

namespace {

struct ConvertOptions {
  std::string value;
  std::string scale = "utc";
  bool is_jd = false;
  bool gps_seconds = false;
};

// The smallest number read as a JD without --jd: JD 2,400,000 is 1858; MJD 2,400,000 is year 8429.
constexpr double kJdThreshold = 2400000;

std::optional<double> parse_number(const std::string& text) {
  double number = 0;
  auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (status != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

}  // namespace

void register_time_commands(CommandRegistry& registry) {
  registry.describe_group("time", "Time scales: the engine's MJD TAI and the surveys' scales");
  registry.add(
      "time convert", "Show one instant as MJD TAI, MJD/JD UTC, ISO 8601 UTC and GPS seconds",
      [](CLI::App& app) -> CommandRegistry::Runner {
        auto options = std::make_shared<ConvertOptions>();
        app.add_option("value", options->value, "ISO 8601 UTC text, or a number (MJD by default)")
            ->required();
        app.add_option("--scale", options->scale, "scale of a numeric value: utc, tai, tt, gps")
            ->capture_default_str();
        app.add_flag("--jd", options->is_jd,
                     "the number is a JD, not an MJD (implied for numbers >= 2,400,000, such as ZTF's jd)");
        app.add_flag("--gps-seconds", options->gps_seconds, "the number is GPS seconds");
        return [options] {
          const std::string place = "time convert";
          double mjd_tai = 0;
          std::string read_as;
          std::optional<double> number = parse_number(options->value);
          if (!number) {
            if (options->gps_seconds || options->is_jd)
              fail(place, "'" + options->value + "' is not a number");
            mjd_tai = time::iso_utc_to_mjd_tai(options->value, place);
            read_as = "ISO 8601 UTC";
          } else if (options->gps_seconds) {
            mjd_tai = time::gps_seconds_to_mjd_tai(*number);
            read_as = "GPS seconds";
          } else {
            time::Scale scale = time::parse_scale(options->scale, place);
            // No MJD of these centuries reaches 2,400,000: such a number is a JD, as ZTF's `jd` (UTC).
            const bool recognised_jd = !options->is_jd && *number >= kJdThreshold;
            const bool is_jd = options->is_jd || recognised_jd;
            mjd_tai = time::to_mjd_tai(*number, scale, is_jd, place);
            read_as = std::string(is_jd ? "JD (" : "MJD (") + std::string(time::to_string(scale)) + ")";
            if (recognised_jd)
              read_as += scale == time::Scale::utc ? ": a number >= 2,400,000 is read as a JD, as ZTF's jd (UTC)"
                                                   : ": a number >= 2,400,000 is read as a JD";
          }
          double mjd_utc = time::mjd_tai_to_utc(mjd_tai, place);
          nlohmann::json out{
              {"input", options->value},
              {"read_as", read_as},
              {"mjd_tai", mjd_tai},
              {"mjd_utc", mjd_utc},
              {"jd_utc", mjd_utc + 2400000.5},
              {"iso_utc", time::mjd_tai_to_iso_utc(mjd_tai, place)},
              {"gps_seconds", time::mjd_tai_to_gps_seconds(mjd_tai)},
              {"tai_minus_utc_seconds", time::tai_minus_utc_seconds(mjd_utc, place)}};
          std::cout << out.dump() << "\n";
          return exit_code::ok;
        };
      });
}

}  // namespace ebs
