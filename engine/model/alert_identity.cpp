#include "engine/model/alert_identity.h"

#include <charconv>

#include "engine/util/hash.h"

namespace ebs {

int64_t alert_id_of_text(std::string_view key) {
  auto id = static_cast<int64_t>(fnv1a64(key) & 0x7fffffffffffffffull);
  return id == 0 ? 1 : id;
}

std::optional<int64_t> parse_alert_id(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace ebs
