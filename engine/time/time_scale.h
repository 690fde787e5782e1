// The engine's one time scale: every time inside ebs-flow is an MJD in TAI (a double, days).
// Surveys declare other scales (ZTF `jd`: JD UTC; Rubin `midpointMjdTai`: MJD TAI; GCN notices:
// ISO 8601 UTC; GraceDB: GPS seconds); decoders convert at the edge with these helpers.
//
// Leap seconds come from liberfa (the table compiled into the installed ERFA). Conversions keep
// the MJD day and its fraction apart (ERFA's two-part dates) so that no precision is lost beyond
// the double MJD itself (about 1 µs at MJD 6e4).
//
// Bad input raises ebs::Fault (kind failed); `place` names where the value came from (a file
// row, topic/partition/offset, ...) and the message names the offending text.
#pragma once

#include <string>
#include <string_view>

namespace ebs::time {

enum class Scale { utc, tai, tt, gps };

// "utc", "tai", "tt", "gps" (any letter case).
Scale parse_scale(std::string_view text, std::string_view place = {});
std::string_view to_string(Scale scale);

// Offsets of the fixed-offset scales from TAI, in seconds: TT = TAI + 32.184 s, GPS = TAI - 19 s.
inline constexpr double kTtMinusTaiSeconds = 32.184;
inline constexpr double kTaiMinusGpsSeconds = 19.0;
// The GPS epoch, 1980-01-06T00:00:00 UTC, as an MJD (UTC); TAI - UTC was 19 s then.
inline constexpr double kGpsEpochMjdUtc = 44244.0;
inline constexpr double kSecondsPerDay = 86400.0;

// UTC <-> TAI through ERFA's leap-second table. MJD UTC is ERFA's "quasi" MJD: on a day with
// a leap second the day fraction spans 86401 s. Dates before 1960 (no UTC) raise a Fault.
double mjd_utc_to_tai(double mjd_utc, std::string_view place = {});
double mjd_tai_to_utc(double mjd_tai, std::string_view place = {});

// TAI - UTC in seconds at a UTC instant (37 s since 2017-01-01).
double tai_minus_utc_seconds(double mjd_utc, std::string_view place = {});

// JD - 2400000.5 (exact in double for present-day dates).
double jd_to_mjd(double jd);

// Any declared (scale, MJD or JD) pair to MJD TAI. For Scale::gps the value is a date on the GPS
// time scale (TAI - 19 s); GPS *seconds* go through gps_seconds_to_mjd_tai.
double to_mjd_tai(double value, Scale scale, bool is_jd, std::string_view place = {});

// ISO 8601 UTC: "2022-07-22T21:57:12.384Z", without "Z", with "+00:00" (also "+0000", "-00:00",
// and GraceDB's " UTC"),
// a space instead of "T", fractional seconds of any length, or a bare date "2022-07-22".
// Second 60 is accepted on days that end with a leap second. Other offsets raise a Fault.
double iso_utc_to_mjd_tai(std::string_view iso, std::string_view place = {});

// "2022-07-22T21:57:12.384Z": millisecond precision (rounded), "23:59:60.xxx" inside a leap second.
std::string mjd_tai_to_iso_utc(double mjd_tai, std::string_view place = {});

// GPS seconds since the GPS epoch (no leap seconds: TAI = GPS + 19 s) <-> MJD TAI.
double gps_seconds_to_mjd_tai(double gps_seconds);
double mjd_tai_to_gps_seconds(double mjd_tai);

}  // namespace ebs::time
