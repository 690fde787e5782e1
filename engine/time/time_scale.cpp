#include "engine/time/time_scale.h"

#include <erfa.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/util/fault.h"

namespace ebs::time {

namespace {

// ERFA's two-part dates: (kMjdZeroJd, mjd) keeps the MJD exact in the second part.
constexpr double kMjdZeroJd = 2400000.5;
// 1960-01-01, where ERFA's UTC (and its TAI - UTC table) begins.
constexpr double kFirstUtcMjd = 36934.0;

std::string format_number(double value) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.9f", value);
  return buffer;
}

void check_utc_range(double mjd, std::string_view place, const char* what) {
  if (!std::isfinite(mjd)) fail(std::string(place), std::string(what) + " is not a finite number");
  if (mjd < kFirstUtcMjd)
    fail(std::string(place), std::string(what) + " " + format_number(mjd) +
                                 " is before 1960, where UTC (and its leap-second table) begins");
}

// ERFA statuses: +1 = dubious year (beyond the table's horizon: the last known TAI - UTC is
// still the best value, so it is accepted), negative = unusable date.
void check_erfa_status(int status, double mjd, std::string_view place, const char* what) {
  if (status < 0)
    fail(std::string(place), std::string(what) + " " + format_number(mjd) +
                                 " is outside ERFA's calendar (status " + std::to_string(status) +
                                 ")");
}

[[noreturn]] void bad_iso(std::string_view place, std::string_view text, std::string_view why) {
  fail(std::string(place),
       "bad ISO 8601 UTC time '" + std::string(text) + "': " + std::string(why));
}

// Reads exactly `digits` decimal digits at `pos` (advancing it), or -1.
int read_digits(std::string_view text, size_t& pos, size_t digits) {
  if (pos + digits > text.size()) return -1;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  return value;
}

}  // namespace

Scale parse_scale(std::string_view text, std::string_view place) {
  std::string lower;
  for (char c : text) lower += static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  if (lower == "utc") return Scale::utc;
  if (lower == "tai") return Scale::tai;
  if (lower == "tt") return Scale::tt;
  if (lower == "gps") return Scale::gps;
  fail(std::string(place),
       "unknown time scale '" + std::string(text) + "' (expected utc, tai, tt or gps)");
}

std::string_view to_string(Scale scale) {
  switch (scale) {
    case Scale::utc: return "utc";
    case Scale::tai: return "tai";
    case Scale::tt: return "tt";
    case Scale::gps: return "gps";
  }
  return "utc";
}

double mjd_utc_to_tai(double mjd_utc, std::string_view place) {
  check_utc_range(mjd_utc, place, "MJD UTC");
  double tai1 = 0, tai2 = 0;
  int status = eraUtctai(kMjdZeroJd, mjd_utc, &tai1, &tai2);
  check_erfa_status(status, mjd_utc, place, "MJD UTC");
  // tai1 stays kMjdZeroJd, so this subtraction is exact.
  return (tai1 - kMjdZeroJd) + tai2;
}

double mjd_tai_to_utc(double mjd_tai, std::string_view place) {
  check_utc_range(mjd_tai, place, "MJD TAI");
  double utc1 = 0, utc2 = 0;
  int status = eraTaiutc(kMjdZeroJd, mjd_tai, &utc1, &utc2);
  check_erfa_status(status, mjd_tai, place, "MJD TAI");
  return (utc1 - kMjdZeroJd) + utc2;
}

double tai_minus_utc_seconds(double mjd_utc, std::string_view place) {
  check_utc_range(mjd_utc, place, "MJD UTC");
  int year = 0, month = 0, day = 0;
  double fraction = 0;
  if (eraJd2cal(kMjdZeroJd, mjd_utc, &year, &month, &day, &fraction) != 0)
    fail(std::string(place), "MJD UTC " + format_number(mjd_utc) + " is outside ERFA's calendar");
  double seconds = 0;
  int status = eraDat(year, month, day, fraction, &seconds);
  check_erfa_status(status, mjd_utc, place, "MJD UTC");
  return seconds;
}

double jd_to_mjd(double jd) { return jd - kMjdZeroJd; }

double to_mjd_tai(double value, Scale scale, bool is_jd, std::string_view place) {
  if (!std::isfinite(value)) fail(std::string(place), "time is not a finite number");
  double mjd = is_jd ? jd_to_mjd(value) : value;
  switch (scale) {
    case Scale::utc: return mjd_utc_to_tai(mjd, place);
    case Scale::tai: return mjd;
    case Scale::tt: return mjd - kTtMinusTaiSeconds / kSecondsPerDay;
    case Scale::gps: return mjd + kTaiMinusGpsSeconds / kSecondsPerDay;
  }
  return mjd;
}

double iso_utc_to_mjd_tai(std::string_view iso, std::string_view place) {
  std::string_view text = iso;
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);

  size_t pos = 0;
  int year = read_digits(text, pos, 4);
  if (year < 0) bad_iso(place, iso, "expected a 4-digit year");
  if (pos >= text.size() || text[pos] != '-') bad_iso(place, iso, "expected '-' after the year");
  ++pos;
  int month = read_digits(text, pos, 2);
  if (month < 0) bad_iso(place, iso, "expected a 2-digit month");
  if (pos >= text.size() || text[pos] != '-') bad_iso(place, iso, "expected '-' after the month");
  ++pos;
  int day = read_digits(text, pos, 2);
  if (day < 0) bad_iso(place, iso, "expected a 2-digit day");

  int hour = 0, minute = 0;
  double second = 0;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    hour = read_digits(text, pos, 2);
    if (hour < 0) bad_iso(place, iso, "expected a 2-digit hour");
    if (pos >= text.size() || text[pos] != ':') bad_iso(place, iso, "expected ':' after the hour");
    ++pos;
    minute = read_digits(text, pos, 2);
    if (minute < 0) bad_iso(place, iso, "expected 2-digit minutes");
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      size_t start = pos;
      if (read_digits(text, pos, 2) < 0) bad_iso(place, iso, "expected 2-digit seconds");
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        size_t fraction_start = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        if (pos == fraction_start) bad_iso(place, iso, "expected digits after the decimal point");
      }
      std::string seconds_text(text.substr(start, pos - start));
      if (seconds_text.size() > 2) seconds_text[2] = '.';  // a decimal comma is legal ISO 8601
      auto [end, error] =
          std::from_chars(seconds_text.data(), seconds_text.data() + seconds_text.size(), second);
      if (error != std::errc() || end != seconds_text.data() + seconds_text.size())
        bad_iso(place, iso, "unreadable seconds");
    }
  }

  if (pos < text.size()) {
    std::string_view zone = text.substr(pos);
    // " UTC" is GraceDB's spelling ("2022-07-22 22:02:45 UTC").
    bool is_utc = zone == "Z" || zone == "z" || zone == "+00:00" || zone == "-00:00" ||
                  zone == "+0000" || zone == "-0000" || zone == "+00" || zone == "-00" ||
                  zone == " UTC" || zone == "UTC";
    if (!is_utc) {
      if (zone.front() == '+' || zone.front() == '-')
        bad_iso(place, iso,
                "only UTC is accepted (offset 'Z' or '+00:00'), not '" + std::string(zone) + "'");
      bad_iso(place, iso, "unexpected '" + std::string(zone) + "'");
    }
  }

  double jd_day = 0, day_fraction = 0;
  int status = eraDtf2d("UTC", year, month, day, hour, minute, second, &jd_day, &day_fraction);
  switch (status) {
    case 0:
    case 1:
      break;  // 1: dubious year (beyond the leap-second table's horizon), still the best value
    case 2:
    case 3:
      if (second < 61.0 && hour == 23 && minute == 59)
        bad_iso(place, iso, "second 60 on a day without a leap second");
      bad_iso(place, iso, "seconds out of range");
    case -1: bad_iso(place, iso, "year out of range");
    case -2: bad_iso(place, iso, "month out of range");
    case -3: bad_iso(place, iso, "day out of range");
    case -4: bad_iso(place, iso, "hour out of range");
    case -5: bad_iso(place, iso, "minutes out of range");
    case -6: bad_iso(place, iso, "seconds out of range");
    default: bad_iso(place, iso, "rejected by ERFA (status " + std::to_string(status) + ")");
  }
  double mjd_day = jd_day - kMjdZeroJd;  // exact: jd_day is a whole day plus 0.5
  if (mjd_day < kFirstUtcMjd) bad_iso(place, iso, "before 1960, where UTC begins");
  // Keep the day and its fraction apart through the leap-second step for full precision.
  double tai_day = 0, tai_fraction = 0;
  status = eraUtctai(jd_day, day_fraction, &tai_day, &tai_fraction);
  if (status < 0) bad_iso(place, iso, "rejected by ERFA (status " + std::to_string(status) + ")");
  return (tai_day - kMjdZeroJd) + tai_fraction;
}

std::string mjd_tai_to_iso_utc(double mjd_tai, std::string_view place) {
  check_utc_range(mjd_tai, place, "MJD TAI");
  double utc1 = 0, utc2 = 0;
  int status = eraTaiutc(kMjdZeroJd, mjd_tai, &utc1, &utc2);
  check_erfa_status(status, mjd_tai, place, "MJD TAI");
  int year = 0, month = 0, day = 0, hmsf[4] = {0, 0, 0, 0};
  status = eraD2dtf("UTC", 3, utc1, utc2, &year, &month, &day, hmsf);
  check_erfa_status(status, mjd_tai, place, "MJD TAI");
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day,
                hmsf[0], hmsf[1], hmsf[2], hmsf[3]);
  return buffer;
}

double gps_seconds_to_mjd_tai(double gps_seconds) {
  // The epoch in TAI is MJD 44244 + 19 s; splitting the day count keeps precision.
  return kGpsEpochMjdUtc + (gps_seconds + kTaiMinusGpsSeconds) / kSecondsPerDay;
}

double mjd_tai_to_gps_seconds(double mjd_tai) {
  return (mjd_tai - kGpsEpochMjdUtc) * kSecondsPerDay - kTaiMinusGpsSeconds;
}

}  // namespace ebs::time
