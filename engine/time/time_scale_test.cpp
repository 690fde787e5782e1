#include "engine/time/time_scale.h"

#include <doctest/doctest.h>
#include <fitsio.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/util/fault.h"
#include "test/support/test_data.h"

using namespace ebs::time;

namespace {

constexpr double kSecond = 1.0 / 86400.0;

// MJD (UTC) of 2017-01-01T00:00:00, just after the 2016-12-31 leap second.
constexpr double kMjd2017 = 57754.0;

// Runs a script with Debian's python3 (astropy installed there) and returns its stdout.
std::string run_python(const std::string& script) {
  std::string command =
      "/usr/bin/python3 -W ignore - <<'EBS_PYTHON_EOF'\n" + script + "\nEBS_PYTHON_EOF\n";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot start /usr/bin/python3");
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  int status = pclose(pipe);
  REQUIRE_MESSAGE(status == 0, "python oracle failed: " << output);
  return output;
}

}  // namespace

TEST_CASE("scale names parse and print") {
  CHECK(parse_scale("utc") == Scale::utc);
  CHECK(parse_scale("TAI") == Scale::tai);
  CHECK(parse_scale("tt") == Scale::tt);
  CHECK(parse_scale("Gps") == Scale::gps);
  CHECK(to_string(Scale::tai) == "tai");
  try {
    parse_scale("tdb", "workflow.yaml:3:9");
    FAIL("no fault");
  } catch (const ebs::Fault& fault) {
    CHECK(fault.place() == "workflow.yaml:3:9");
    CHECK(fault.message().find("'tdb'") != std::string::npos);
  }
}

TEST_CASE("TAI - UTC is 36 s in 2016 and 37 s from 2017") {
  CHECK(tai_minus_utc_seconds(kMjd2017 - 0.5) == 36.0);  // 2016-12-31T12:00 UTC
  CHECK(tai_minus_utc_seconds(kMjd2017 + 0.5) == 37.0);  // 2017-01-01T12:00 UTC
  CHECK(tai_minus_utc_seconds(59782.9) == 37.0);
  CHECK(std::abs(mjd_utc_to_tai(kMjd2017 - 1.0) - (kMjd2017 - 1.0 + 36 * kSecond)) < 1e-10);
  CHECK(std::abs(mjd_utc_to_tai(kMjd2017 + 1.0) - (kMjd2017 + 1.0 + 37 * kSecond)) < 1e-10);
  // Around the leap second through ISO text: 23:59:60 exists on 2016-12-31.
  double before = iso_utc_to_mjd_tai("2016-12-31T23:59:59");
  double leap = iso_utc_to_mjd_tai("2016-12-31T23:59:60");
  double after = iso_utc_to_mjd_tai("2017-01-01T00:00:00");
  CHECK(std::abs((leap - before) / kSecond - 1.0) < 1e-5);
  CHECK(std::abs((after - leap) / kSecond - 1.0) < 1e-5);
  CHECK(mjd_tai_to_iso_utc(leap + 0.5 * kSecond) == "2016-12-31T23:59:60.500Z");
}

TEST_CASE("UTC <-> TAI round trip keeps microseconds") {
  for (double mjd : {44244.0, 51544.5, 57753.999, 57754.0001, 59782.914727, 60923.123456789}) {
    double back = mjd_tai_to_utc(mjd_utc_to_tai(mjd));
    CHECK(std::abs(back - mjd) * 86400.0 < 1e-6);
  }
}

TEST_CASE("MS220722v test vector: DATE-OBS, MJD-OBS and GPS agree") {
  // DATE-OBS 2022-07-22T21:57:12.384 UTC = MJD-OBS 59782.914727 (UTC) = GPS 1342562250.38.
  double from_iso = iso_utc_to_mjd_tai("2022-07-22T21:57:12.384");
  double from_mjd = to_mjd_tai(59782.914727, Scale::utc, false);
  double from_jd = to_mjd_tai(59782.914727 + 2400000.5, Scale::utc, true);
  double from_gps = gps_seconds_to_mjd_tai(1342562250.38);
  CHECK(std::abs(from_iso - (59782.914726666667 + 37 * kSecond)) < 1e-9);
  CHECK(std::abs(from_mjd - from_iso) / kSecond < 0.03);  // MJD-OBS is rounded to 1e-6 day
  CHECK(std::abs(from_jd - from_mjd) / kSecond < 1e-4);
  CHECK(std::abs(from_gps - from_iso) / kSecond < 0.005);  // GPS is given to 10 ms
  CHECK(mjd_tai_to_iso_utc(from_iso) == "2022-07-22T21:57:12.384Z");
  CHECK(mjd_tai_to_iso_utc(from_gps) == "2022-07-22T21:57:12.380Z");
  CHECK(std::abs(mjd_tai_to_gps_seconds(from_iso) - 1342562250.384) < 1e-4);
  CHECK(std::abs(mjd_tai_to_utc(from_iso) - 59782.914727) / kSecond < 0.03);
}

TEST_CASE("GPS epoch and fixed offsets") {
  CHECK(std::abs(gps_seconds_to_mjd_tai(0) - mjd_utc_to_tai(44244.0)) < 1e-12);
  CHECK(std::abs(mjd_tai_to_gps_seconds(gps_seconds_to_mjd_tai(1e9 + 0.25)) - (1e9 + 0.25)) < 1e-5);
  CHECK(to_mjd_tai(60000.0, Scale::tai, false) == 60000.0);
  CHECK(to_mjd_tai(2460000.5, Scale::tai, true) == 60000.0);
  CHECK(std::abs(to_mjd_tai(60000.0, Scale::tt, false) - (60000.0 - 32.184 * kSecond)) < 1e-12);
  CHECK(std::abs(to_mjd_tai(60000.0, Scale::gps, false) - (60000.0 + 19 * kSecond)) < 1e-12);
  CHECK(jd_to_mjd(2459782.5) == 59782.0);
}

TEST_CASE("ISO 8601 spellings") {
  double reference = iso_utc_to_mjd_tai("2022-07-22T21:57:12.384Z");
  CHECK(iso_utc_to_mjd_tai("2022-07-22T21:57:12.384") == reference);
  CHECK(iso_utc_to_mjd_tai("2022-07-22T21:57:12.384+00:00") == reference);
  CHECK(iso_utc_to_mjd_tai("2022-07-22 21:57:12.384") == reference);
  CHECK(iso_utc_to_mjd_tai("2022-07-22 21:57:12.384 UTC") == reference);
  CHECK(iso_utc_to_mjd_tai("2022-07-22T21:57:12,384Z") == reference);
  CHECK(std::abs(iso_utc_to_mjd_tai("2022-07-22T21:57:12.384000123Z") - reference) / kSecond <
        1e-6);
  CHECK(std::abs(iso_utc_to_mjd_tai("2022-07-22T21:57:12.4") - reference) / kSecond - 0.016 < 1e-6);
  CHECK(std::abs(iso_utc_to_mjd_tai("2022-07-22T21:57:12Z") - reference) / kSecond - 0.384 < 1e-6);
  CHECK(std::abs(iso_utc_to_mjd_tai("2022-07-22") - (59782.0 + 37 * kSecond)) < 1e-12);
  CHECK(std::abs(iso_utc_to_mjd_tai("2022-07-22T21:57") -
                 (59782.0 + (21 * 3600 + 57 * 60 + 37) * kSecond)) < 1e-10);
}

TEST_CASE("bad ISO text is a fault naming the text") {
  const char* bad[] = {"",
                       "2022-7-22T21:57:12",
                       "2022-07-22T21:57:12.384+02:00",
                       "2022-07-22T21:57:12.Z",
                       "2022-13-01T00:00:00",
                       "2022-02-30T00:00:00",
                       "2022-07-22T24:00:00",
                       "2022-07-22T21:60:00",
                       "2022-07-22T23:59:60",  // no leap second that day
                       "2022-07-22T21:57:75",
                       "1950-01-01T00:00:00",
                       "2022-07-22T21:57:12.384 TAI",
                       "yesterday"};
  for (const char* text : bad) {
    CAPTURE(text);
    try {
      iso_utc_to_mjd_tai(text, "gcn/0/17");
      FAIL("no fault");
    } catch (const ebs::Fault& fault) {
      CHECK(fault.kind() == ebs::FaultKind::failed);
      CHECK(fault.place() == "gcn/0/17");
      CHECK(fault.message().find("'" + std::string(text) + "'") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(mjd_utc_to_tai(NAN), ebs::Fault);
  CHECK_THROWS_AS(mjd_utc_to_tai(30000.0), ebs::Fault);
}

TEST_CASE("agrees with astropy across leap seconds") {
  const std::vector<std::string> isos = {
      "1980-01-06T00:00:00.000", "1998-12-31T23:59:59.250", "1999-01-01T00:00:00.750",
      "2015-06-30T23:59:59.900", "2015-06-30T23:59:60.400", "2015-07-01T00:00:00.100",
      "2016-12-31T12:00:00.000", "2016-12-31T23:59:60.999", "2017-01-01T00:00:00.001",
      "2022-07-22T21:57:12.384", "2025-09-05T03:12:45.678"};
  const std::vector<double> mjds_utc = {50000.25, 57203.999,    57204.0001, 57753.75,
                                        57754.25, 59782.914727, 60923.5};
  const std::vector<double> gps_seconds = {0.0, 1e9, 1342562250.38, 1.4e9};

  std::ostringstream script;
  script.precision(17);
  script << "from astropy.time import Time\n";
  for (const auto& iso : isos)
    script << "print(repr(Time('" << iso << "', scale='utc').tai.mjd))\n";
  for (double mjd : mjds_utc) {
    script << "print(repr(Time(" << mjd << ", format='mjd', scale='utc').tai.mjd))\n";
    script << "print(Time(" << mjd << ", format='mjd', scale='utc').tai.utc.isot + 'Z')\n";
  }
  for (double gps : gps_seconds)
    script << "print(repr(Time(" << gps << ", format='gps').tai.mjd))\n";

  std::istringstream lines(run_python(script.str()));
  auto next_number = [&] {
    std::string line;
    REQUIRE(std::getline(lines, line));
    return std::stod(line);
  };
  for (const auto& iso : isos) {
    CAPTURE(iso);
    CHECK(std::abs(iso_utc_to_mjd_tai(iso) - next_number()) < 1e-10);
  }
  for (double mjd : mjds_utc) {
    CAPTURE(mjd);
    double tai = mjd_utc_to_tai(mjd);
    CHECK(std::abs(tai - next_number()) < 1e-10);
    std::string line;
    REQUIRE(std::getline(lines, line));
    CHECK(mjd_tai_to_iso_utc(tai) == line);
  }
  for (double gps : gps_seconds) {
    CAPTURE(gps);
    CHECK(std::abs(gps_seconds_to_mjd_tai(gps) - next_number()) < 1e-10);
  }
}

TEST_CASE("MS220722v in the shared data: GraceDB GPS time, skymap DATE-OBS and MJD-OBS agree") {
  const auto data = ebs::test::data_dir();
  std::ifstream superevent_file(data / "gcn/gwcelery-tests/MS220722v.json");
  REQUIRE(superevent_file.good());
  nlohmann::json superevent = nlohmann::json::parse(superevent_file);
  double gps = superevent["preferred_event_data"]["gpstime"].get<double>();
  CHECK(superevent["t_0"].get<double>() == gps);

  fitsfile* fits = nullptr;
  int status = 0;
  std::string skymap = (data / "skymaps/MS220722v_bayestar.multiorder.fits").string();
  fits_open_file(&fits, skymap.c_str(), READONLY, &status);
  REQUIRE(status == 0);
  int hdu_type = 0;
  fits_movabs_hdu(fits, 2, &hdu_type, &status);
  char date_obs[FLEN_VALUE] = {0};
  double mjd_obs = 0;
  fits_read_key(fits, TSTRING, "DATE-OBS", date_obs, nullptr, &status);
  fits_read_key(fits, TDOUBLE, "MJD-OBS", &mjd_obs, nullptr, &status);
  fits_close_file(fits, &status);
  REQUIRE(status == 0);
  CHECK(std::string(date_obs) == "2022-07-22T21:57:12.384103");

  double from_date_obs = iso_utc_to_mjd_tai(date_obs);
  CHECK(std::abs(to_mjd_tai(mjd_obs, Scale::utc, false) - from_date_obs) / kSecond < 1e-5);
  // The map's DATE-OBS is the pipeline event's time, 2 ms from the superevent's t_0.
  CHECK(std::abs(gps_seconds_to_mjd_tai(gps) - from_date_obs) / kSecond < 0.003);
  CHECK(mjd_tai_to_iso_utc(gps_seconds_to_mjd_tai(gps)) == "2022-07-22T21:57:12.382Z");
  // GraceDB's own "created" stamp, in its " UTC" spelling, comes a few minutes later.
  double created = iso_utc_to_mjd_tai(superevent["created"].get<std::string>(), "MS220722v.json");
  CHECK((created - from_date_obs) / kSecond == doctest::Approx(333.0).epsilon(0.01));
}
