#include "actors/common/angle_text.h"

#include <cctype>
#include <charconv>
#include <stdexcept>
#include <string>

#include "engine/util/fault.h"

namespace ebs {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

double parse_angle_argument(std::string_view text, bool is_ra) {
  const std::string_view view = trim(text);
  const bool sexagesimal = view.find_first_of(": hdm") != std::string_view::npos;
  try {
    if (sexagesimal) return parse_sexagesimal(view) * (is_ra ? 15.0 : 1.0);
    size_t used = 0;
    const double value = std::stod(std::string(view), &used);
    if (used == view.size()) return value;
  } catch (const std::exception&) {
  }
  fail(is_ra ? "RA" : "DEC", "'" + std::string(text) + "' is not an angle (degrees, or " +
                                 (is_ra ? "h:m:s" : "d:m:s") + ")");
}

}  // namespace

double parse_sexagesimal(std::string_view text) {
  std::string_view rest = trim(text);
  if (rest.empty()) fail("angle", "empty angle");
  double sign = 1.0;
  // The sign belongs to the whole angle: "-00 30 00" is -0.5.
  if (rest.front() == '-' || rest.front() == '+') {
    if (rest.front() == '-') sign = -1.0;
    rest.remove_prefix(1);
    rest = trim(rest);
  }
  double parts[3] = {0, 0, 0};
  int count = 0;
  while (!rest.empty()) {
    if (count == 3) fail("angle", "more than three components in '" + std::string(text) + "'");
    double value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || end == rest.data())
      fail("angle", "not an angle: '" + std::string(text) + "'");
    parts[count++] = value;
    rest.remove_prefix(static_cast<size_t>(end - rest.data()));
    // Separators: ':', blanks, or unit letters h/d/m/s and the degree, minute, second marks.
    size_t skip = 0;
    while (skip < rest.size()) {
      const char c = rest[skip];
      if (c == ':' || c == ' ' || c == '\t' || c == 'h' || c == 'd' || c == 'm' || c == 's' ||
          c == '\'' || c == '"') {
        ++skip;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        ++skip;  // UTF-8 degree/prime marks
      } else {
        break;
      }
    }
    if (skip == 0 && !rest.empty())
      fail("angle", "unexpected '" + std::string(1, rest.front()) + "' in angle '" +
                                  std::string(text) + "'");
    rest.remove_prefix(skip);
  }
  for (int i = 0; i < count; ++i)
    if (parts[i] < 0) fail("angle", "negative component in '" + std::string(text) + "'");
  if (count >= 2 && parts[1] >= 60) fail("angle", "minutes >= 60 in '" + std::string(text) + "'");
  if (count == 3 && parts[2] >= 60) fail("angle", "seconds >= 60 in '" + std::string(text) + "'");
  return sign * (parts[0] + parts[1] / 60.0 + parts[2] / 3600.0);
}

double parse_ra_argument(std::string_view text) {
  const double ra = parse_angle_argument(text, true);
  if (!(ra >= 0 && ra < 360)) fail("RA", "'" + std::string(text) + "' is outside [0, 360) degrees");
  return ra;
}

double parse_dec_argument(std::string_view text) {
  const double dec = parse_angle_argument(text, false);
  if (!(dec >= -90 && dec <= 90)) fail("DEC", "'" + std::string(text) + "' is outside [-90, 90] degrees");
  return dec;
}

}  // namespace ebs
