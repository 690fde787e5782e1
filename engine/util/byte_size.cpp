#include "engine/util/byte_size.h"

#include <array>
#include <cctype>
#include <limits>

namespace ebs {

namespace {

__extension__ typedef __int128 Wide;  // a number of up to 19 digits times a unit of up to 2^40

struct Unit {
  std::string_view name;
  int64_t bytes;
};
constexpr std::array<Unit, 9> kUnits{{{"B", 1},
                                      {"KiB", int64_t{1} << 10},
                                      {"MiB", int64_t{1} << 20},
                                      {"GiB", int64_t{1} << 30},
                                      {"TiB", int64_t{1} << 40},
                                      {"kB", 1000},
                                      {"MB", 1000 * 1000},
                                      {"GB", 1000 * 1000 * 1000},
                                      {"TB", int64_t{1000} * 1000 * 1000 * 1000}}};

bool same_letters(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// White space as isspace has it in the C locale, whatever the process's locale: a file saved with
// CRLF line ends leaves a '\r'.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

ByteSize refused(std::string_view text, const std::string& why, int64_t plain_unit) {
  return {std::nullopt, "'" + std::string(text) + "' is not a size in bytes (" + why + "): write " +
                            byte_size_forms(plain_unit)};
}

}  // namespace

std::string byte_size_forms(int64_t plain_unit) {
  std::string forms = "4096, 64 KiB, 8 MiB or 1 GiB (KiB, MiB, GiB, TiB: powers of 1024; kB, MB, GB, TB: of 1000)";
  for (const Unit& u : kUnits)
    if (plain_unit != 1 && u.bytes == plain_unit) return forms + "; a number without a unit counts " + std::string(u.name);
  return forms;
}

ByteSize parse_byte_size(std::string_view text, int64_t plain_unit) {
  size_t at = 0, end = text.size();
  while (at < end && is_space(text[at])) ++at;
  while (end > at && is_space(text[end - 1])) --end;
  const std::string_view body = text.substr(at, end - at);
  if (body.empty()) return refused(text, "it is empty", plain_unit);
  if (body[0] == '-' || body[0] == '+') return refused(text, "no sign is taken", plain_unit);

  // The number: digits, and maybe a '.' and more digits.
  size_t i = 0;
  while (i < body.size() && is_digit(body[i])) ++i;
  std::string_view integer = body.substr(0, i), fraction;
  if (i < body.size() && body[i] == '.') {
    const size_t fraction_at = ++i;
    while (i < body.size() && is_digit(body[i])) ++i;
    fraction = body.substr(fraction_at, i - fraction_at);
    if (integer.empty() || fraction.empty()) return refused(text, "it does not start with a number", plain_unit);
  }
  if (integer.empty()) return refused(text, "it does not start with a number", plain_unit);

  // Its value is whole / 10^decimals, counting only the digits that matter: zeros that lead the
  // number or end its fraction change nothing. Past 19 of them a size passes int64_t or the fraction
  // is absurd; and the arithmetic below stays within 10^19 times a unit of at most 2^40.
  while (integer.size() > 1 && integer.front() == '0') integer.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  const size_t significant = (integer == "0" ? 0 : integer.size()) + fraction.size();
  if (significant > 19) return refused(text, "more than 19 digits", plain_unit);
  Wide whole = 0;
  for (char digit : integer) whole = whole * 10 + (digit - '0');
  for (char digit : fraction) whole = whole * 10 + (digit - '0');
  const size_t decimals = fraction.size();

  size_t unit_at = i;
  while (unit_at < body.size() && is_space(body[unit_at])) ++unit_at;
  const std::string_view unit_name = body.substr(unit_at);
  int64_t unit = plain_unit;
  if (!unit_name.empty()) {
    unit = 0;
    for (const Unit& u : kUnits)
      if (same_letters(unit_name, u.name)) unit = u.bytes;
    if (unit == 0) return refused(text, "'" + std::string(unit_name) + "' is not a unit", plain_unit);
  }

  Wide scale = 1;
  for (size_t d = 0; d < decimals; ++d) scale *= 10;
  const Wide product = whole * unit;
  if (product % scale != 0) return refused(text, "not a whole number of bytes", plain_unit);
  const Wide bytes = product / scale;
  if (bytes > std::numeric_limits<int64_t>::max()) return refused(text, "more than 2^63 - 1 bytes", plain_unit);
  return {static_cast<int64_t>(bytes), {}};
}

std::string describe_bytes(int64_t bytes) {
  std::string text = std::to_string(bytes);
  for (auto u = kUnits.rbegin(); u != kUnits.rend(); ++u)
    if (u->name.size() == 3 && u->name[1] == 'i' && bytes > 0 && bytes % u->bytes == 0)  // KiB to TiB
      return text + " (" + std::to_string(bytes / u->bytes) + " " + std::string(u->name) + ")";
  return text;
}

}  // namespace ebs
